"""Render throughput: the CSG sampler (generate + the render passes its target needs) in the worker pool.

    python benchmarks/render.py [--quick] [--size 64] [--n 96]

Figures, all measured in this run: renders/s with 1 and 2 workers (their ratio), and the pool's
overhead against a bare loop of the same sampler in this process. Writes
benchmarks/results/render.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from hg_jax.generators.csg import CSGGenerator  # noqa: E402
from hg_jax.generators.rendered import RenderedSampler  # noqa: E402
from hg_jax.render.pool import RenderPool  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--n", type=int, default=None)
    a = ap.parse_args()
    n = a.n or (48 if a.quick else 160)
    sampler = RenderedSampler(CSGGenerator(image_size=a.size), normalize=True)
    beta = sampler.default_beta()
    jobs = [(beta, s) for s in range(n)]
    for s in range(3):                       # warm the in-process renderer (GL context, shaders)
        sampler(beta, 10_000 + s)
    t = time.perf_counter()
    for b, s in jobs:
        sampler(b, s)
    bare = time.perf_counter() - t
    res = {"n": n, "size": a.size, "bare_loop_s": bare, "bare_renders_per_s": n / bare}
    for w in (1, 2):
        with RenderPool(sampler, w) as pool:
            pool.map([(beta, 20_000 + s) for s in range(2 * w)])     # start-up and warm-up
            t = time.perf_counter()
            pool.map(jobs)
            res[f"pool{w}_s"] = time.perf_counter() - t
        res[f"pool{w}_renders_per_s"] = n / res[f"pool{w}_s"]
    res["speedup_2_over_1"] = res["pool2_renders_per_s"] / res["pool1_renders_per_s"]
    res["pool_overhead"] = res["pool1_s"] / bare - 1
    res["goals"] = {"speedup_2_over_1": 1.8, "pool_overhead": 0.10}
    res["met"] = {"speedup_2_over_1": res["speedup_2_over_1"] >= 1.8, "pool_overhead": res["pool_overhead"] <= 0.10}
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "render.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(f"{n} CSG samples at {a.size}px: bare loop {res['bare_renders_per_s']:.1f}/s, pool 1 worker "
          f"{res['pool1_renders_per_s']:.1f}/s, 2 workers {res['pool2_renders_per_s']:.1f}/s -> speed-up "
          f"{res['speedup_2_over_1']:.2f}, pool overhead {100 * res['pool_overhead']:.1f}%")


if __name__ == "__main__":
    main()
