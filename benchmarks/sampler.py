"""Sampler cost per grammar against a floor: a bare pyrender render of one cube at the same size.

    python benchmarks/sampler.py [--quick] [--size 64] [--n 40]

For each grammar (CSG as in MBII, perturbed procedural NYU rooms, faces, textured shapes), in one
process, interleaved sample by sample with the floor (the machine is shared and noisy, so only
ratios within one run mean anything): scene generation ms, render ms (the passes the production
target needs), their total, total / floor, and samples/s on one core. The floor is draw + readback
of a cube whose pyrender scene is built once: what any sample must pay at least. Goal: ≤ 2× the
floor for CSG and indoor. Writes benchmarks/results/sampler.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
RESULTS = os.path.join(ROOT, "benchmarks", "results")
GOAL = 2.0
GOAL_GRAMMARS = ("csg", "indoor")


def samplers(size: int) -> dict:
    """Each grammar's sampler as its setup builds it (target, image, normalisation)."""
    from hg_jax.generators.csg import CSGGenerator
    from hg_jax.generators.faces import FaceGenerator
    from hg_jax.generators.perturb import PerturbedIndoorGenerator
    from hg_jax.generators.rendered import RenderedSampler
    from hg_jax.generators.textured_shapes import TexturedShapeGenerator

    out = {"csg": RenderedSampler(CSGGenerator(max_depth=2, image_size=size), "normals", "gray", True),
           "indoor": RenderedSampler(PerturbedIndoorGenerator(base_scenes="procedural", num_scenes=32,
                                                              image_size=size, components=2),
                                     "normals", "rgb", True),
           "textured": RenderedSampler(TexturedShapeGenerator(image_size=size), "intrinsic", "rgb", True)}
    try:
        out["faces"] = RenderedSampler(FaceGenerator(image_size=size), "depth", "gray", True)
        out["faces"].scene(out["faces"].default_beta(), 0)
    except (OSError, FileNotFoundError) as e:       # the face model is a data file; say so, go on
        print(f"faces skipped: {e}")
        out.pop("faces", None)
    return out


def floor_render(size: int):
    """Draw + readback of one cube, its pyrender scene built once."""
    import trimesh

    from hg_jax.render.pyrender_backend import get_renderer

    r = get_renderer(size, size)
    pr = r.pyrender
    s = pr.Scene(bg_color=[0.0, 0.0, 0.0, 0.0])
    s.add(pr.Mesh.from_trimesh(trimesh.creation.box()))
    s.add(pr.PerspectiveCamera(yfov=0.6), pose=np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 4.0],
                                                         [0, 0, 0, 1]]))
    s.add(pr.DirectionalLight(intensity=3.0))
    return lambda: r._r.render(s)


def measure(sampler, floor, n: int) -> dict:
    """Medians over n seeds of floor / generate / render+sample assembly, interleaved."""
    from hg_jax.generators import rendered
    from hg_jax.render.pyrender_backend import get_renderer

    maps = getattr(rendered, "MAPS", None)        # None: a tree from before passes were selectable

    beta = sampler.default_beta()
    # warm-up: shaders, and every base scene a worker builds once and keeps (indoor)
    for s in range(max(3, getattr(sampler.generator, "num_scenes", 0))):
        sampler(beta, 10_000 + s)
        floor()
    t_floor, t_gen, t_render, t_total = [], [], [], []
    for s in range(n):
        t0 = time.perf_counter()
        floor()
        t1 = time.perf_counter()
        scene = sampler.scene(beta, s)
        t2 = time.perf_counter()
        r = get_renderer(scene.width, scene.height)
        out = r.render(scene, maps[sampler.target]) if maps else r.render(scene)
        rendered.make_sample(out, sampler.target, sampler.image)
        t3 = time.perf_counter()
        sampler(beta, s)                                      # the production call, end to end
        t4 = time.perf_counter()
        t_floor.append(t1 - t0), t_gen.append(t2 - t1), t_render.append(t3 - t2), t_total.append(t4 - t3)
    ms = lambda x: 1e3 * float(np.median(x))  # noqa: E731
    res = {"floor_ms": ms(t_floor), "generate_ms": ms(t_gen), "render_ms": ms(t_render),
           "total_ms": ms(t_total)}
    res["ratio_to_floor"] = res["total_ms"] / res["floor_ms"]
    res["samples_per_s_per_core"] = 1e3 / res["total_ms"]
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--n", type=int, default=None)
    a = ap.parse_args()
    n = a.n or (20 if a.quick else 60)
    floor = floor_render(a.size)
    res = {"size": a.size, "n": n, "goal_ratio": GOAL, "goal_grammars": list(GOAL_GRAMMARS), "grammars": {}}
    # weighs tiling: a 4×4 grid of samples in one framebuffer pays one 4×-size render
    big = floor_render(4 * a.size)
    t_small, t_big = [], []
    for _ in range(max(n, 20)):
        t0 = time.perf_counter()
        floor()
        t1 = time.perf_counter()
        big()
        t_small.append(t1 - t0), t_big.append(time.perf_counter() - t1)
    res["floor_ms"] = 1e3 * float(np.median(t_small))
    res["floor_4x_size_per_tile_ms"] = 1e3 * float(np.median(t_big)) / 16
    print(f"floor {res['floor_ms']:.2f} ms at {a.size}²; one {4 * a.size}² render / 16 tiles "
          f"{res['floor_4x_size_per_tile_ms']:.2f} ms per tile")
    for name, sampler in samplers(a.size).items():
        r = measure(sampler, floor, n)
        if name in GOAL_GRAMMARS:
            r["met"] = r["ratio_to_floor"] <= GOAL
        res["grammars"][name] = r
        print(f"{name:9s} floor {r['floor_ms']:.2f} ms, generate {r['generate_ms']:.2f}, render "
              f"{r['render_ms']:.2f}, total {r['total_ms']:.2f} -> {r['ratio_to_floor']:.1f}x floor, "
              f"{r['samples_per_s_per_core']:.0f} samples/s/core", flush=True)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "sampler.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
