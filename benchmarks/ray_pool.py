"""Render throughput of the two backends: the CSG sampler in 2 worker processes vs 2 local Ray actors.

    python benchmarks/ray_pool.py [--quick] [--size 64] [--n 96] [--workers 2]

Figure, measured in this run: Ray's overhead = process-pool renders/s / Ray renders/s - 1 (goal
<= 0.15 at 2 workers). Writes benchmarks/results/ray_pool.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from hg_jax.generators.csg import CSGGenerator  # noqa: E402
from hg_jax.generators.rendered import RenderedSampler  # noqa: E402
from hg_jax.render.pool import RenderPool  # noqa: E402
from hg_jax.render.ray_pool import RayRenderPool  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _rate(pool, beta, n, w):
    pool.map([(beta, 20_000 + s) for s in range(2 * w)])     # start-up and warm-up (GL context)
    t = time.perf_counter()
    pool.map([(beta, s) for s in range(n)])
    return n / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    n, w = a.n or (48 if a.quick else 160), a.workers
    sampler = RenderedSampler(CSGGenerator(image_size=a.size), normalize=True)
    beta = sampler.default_beta()
    res = {"n": n, "size": a.size, "workers": w}
    # alternate the backends so drifting load on this shared machine hits both alike
    rates = {"processes": [], "ray": []}
    with RenderPool(sampler, w) as procs, RayRenderPool(sampler, w) as actors:
        for _ in range(2):
            rates["processes"].append(_rate(procs, beta, n, w))
            rates["ray"].append(_rate(actors, beta, n, w))
    res["processes_renders_per_s"] = max(rates["processes"])
    res["ray_renders_per_s"] = max(rates["ray"])
    res["all_rates"] = rates
    res["ray_overhead"] = res["processes_renders_per_s"] / res["ray_renders_per_s"] - 1
    res["goals"] = {"ray_overhead": 0.15}
    res["met"] = {"ray_overhead": res["ray_overhead"] <= 0.15}
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "ray_pool.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(f"{n} CSG samples at {a.size}px, {w} workers: processes {res['processes_renders_per_s']:.1f}/s, "
          f"Ray {res['ray_renders_per_s']:.1f}/s -> Ray overhead {100 * res['ray_overhead']:.1f}%")


if __name__ == "__main__":
    main()
