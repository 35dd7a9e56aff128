"""Mitsuba 3 path tracing vs pyrender: renders/s of the CSG sampler in this process, one thread.

    python benchmarks/render_mitsuba.py [--n 8]

Sizes 64² and 128², Mitsuba at 4 and 16 spp, pyrender in the same run. Writes
benchmarks/results/render_mitsuba.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from hg_jax.generators.csg import CSGGenerator  # noqa: E402
from hg_jax.generators.indoor import procedural_scene  # noqa: E402
from hg_jax.render import renderers  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def rate(name, spp, scenes) -> float:
    r = renderers.get_renderer(name, scenes[0].width, scenes[0].height, spp)
    r.render(scenes[0], seed=0)                      # warm-up (GL context, Mitsuba variant)
    t = time.perf_counter()
    for k, sc in enumerate(scenes):
        r.render(sc, seed=k)
    return len(scenes) / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8)
    a = ap.parse_args()
    res = {"n": a.n, "threads": 1, "rows": []}
    for size in (64, 128):
        g = CSGGenerator(image_size=size, max_depth=2)
        sets = {"csg": [g.generate(g.default_beta(), s) for s in range(a.n)],
                "indoor": [procedural_scene(s % 4).to_scene(0, size, size) for s in range(a.n)]}
        for scene_kind, scenes in sets.items():
            row = {"size": size, "scenes": scene_kind, "pyrender": rate("pyrender", 1, scenes)}
            for spp in (4, 16):
                row[f"mitsuba_{spp}spp"] = rate("mitsuba", spp, scenes)
            res["rows"].append(row)
            print(json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()}))
            os.makedirs(RESULTS, exist_ok=True)      # after every row: a slow machine keeps what it got
            with open(os.path.join(RESULTS, "render_mitsuba.json"), "w") as f:
                json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
