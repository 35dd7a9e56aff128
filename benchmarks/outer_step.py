"""One hybrid outer step: wall time vs max(render time, compute time), and where the time goes.

    python benchmarks/outer_step.py [--quick] [--config configs/mbii.py] [--variant small]

Measured on the config's default variant (where renders and compute are of the same order, so the
figure says whether they overlap; ``:small`` renders 20× longer than it computes), with the engine
``experiment.build_engine`` builds for a real run. ``--quick`` times fewer steps, same config.
The engine submits the β±δ renders to the worker pool and runs the meta-gradient while they
render, so a step should cost about max(render, compute), not their sum. Measured in one run,
after a warm-up step (compilation): the full step; the same step's renders alone through the
pool; its meta-gradient alone; and a breakdown (scene generation and rendering, in one process;
host→device transfer; forward = unrolled training + L; backward = meta-gradient − forward; β update).
Two figures: wall / max(render, compute) (1 = perfect overlap) and wall / (render + compute)
(1 = none). Writes benchmarks/results/outer_step.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
RESULTS = os.path.join(ROOT, "benchmarks", "results")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "mbii.py"))
    ap.add_argument("--variant", default="", help="config variant ('' = the default experiment)")
    ap.add_argument("--steps", type=int, default=None)
    a = ap.parse_args()
    steps = a.steps or (2 if a.quick else 3)
    from benchmarks.compare import load_config
    from hg_jax import config as config_lib, hybrid, setups
    from hg_jax.experiment import build_engine
    from hg_jax.host import make_pool
    from hg_jax.methods.base import get_method

    c = load_config(a.config + (f":{a.variant}" if a.variant else ""))
    config_lib.validate(c)
    setup = setups.build(c)
    pool = make_pool(setup.sampler, c.render.num_workers, c.render.timeout_s, c.render.max_retries)
    eng = build_engine(c, setup, pool)
    method = get_method("hybrid")
    state = eng.init_state(setup.beta0, jax.random.PRNGKey(0), setup.input_shape)
    state, _ = method.step(eng, state)                    # compile
    eng.train_only(state.params, state.inner_opt_state,
                   eng.render(state.beta, eng.seeds(jax.random.PRNGKey(1))).result(), eng.val_batch)
    walls = []
    for i in range(steps):
        state = state.replace(step=i + 1)
        t = time.perf_counter()
        state, _ = method.step(eng, state)
        walls.append(time.perf_counter() - t)
    wall = float(np.median(walls))

    k_seed, k_dir, _ = eng.step_keys(state)
    seeds = eng.seeds(k_seed)
    deltas = hybrid.directions(k_dir, eng.num_directions, eng.schema.size, eng.sigma)
    t = time.perf_counter()
    pend = [eng.render(state.beta, seeds)] + [eng.render(state.beta + s * d, seeds) for d in deltas for s in (1, -1)]
    rendered = [p.result() for p in pend]
    render_only = time.perf_counter() - t
    X = rendered[0]
    t = time.perf_counter()
    Xd = jax.block_until_ready(jax.tree_util.tree_map(jnp.asarray, X))
    transfer = time.perf_counter() - t
    t = time.perf_counter()
    jax.block_until_ready(eng.meta_grad(state.params, state.inner_opt_state, Xd, eng.val_batch))
    compute_only = time.perf_counter() - t
    t = time.perf_counter()
    jax.block_until_ready(eng.train_only(state.params, state.inner_opt_state, Xd, eng.val_batch))
    forward = time.perf_counter() - t
    t = time.perf_counter()
    eng.apply_beta_gradient(state, np.zeros(eng.schema.size) + 1e-3)
    beta_update = time.perf_counter() - t
    sampler = setup.sampler
    n = 8
    t = time.perf_counter()
    scenes = [sampler.scene(state.beta, int(s)) for s in seeds.ravel()[:n]]
    generate = (time.perf_counter() - t) / n
    from hg_jax.render.pyrender_backend import get_renderer
    get_renderer(scenes[0].width, scenes[0].height).render(scenes[0])     # GL context start-up
    t = time.perf_counter()
    for sc in scenes:
        get_renderer(sc.width, sc.height).render(sc)
    render_one = (time.perf_counter() - t) / n
    pool.close()
    jobs = len(pend) * seeds.size
    res = {"config": a.config, "variant": a.variant or "default", "quick": a.quick, "steps": steps,
           "jobs_per_step": jobs, "step_wall_s": wall, "step_walls_s": walls,
           "render_only_s": render_only, "compute_only_s": compute_only,
           "ratio_wall_over_max": wall / max(render_only, compute_only), "goal": 1.15,
           "ratio_wall_over_sum": wall / (render_only + compute_only),
           "breakdown_s": {"generate_per_sample": generate, "render_per_sample": render_one,
                           "generate_total_cpu": generate * jobs, "render_total_cpu": render_one * jobs,
                           "transfer": transfer, "forward": forward,
                           "backward": compute_only - forward, "beta_update": beta_update}}
    res["met"] = res["ratio_wall_over_max"] <= 1.15
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "outer_step.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(f"outer step {wall:.2f} s; renders alone {render_only:.2f} s ({jobs} samples, "
          f"{c.render.num_workers} workers), meta-gradient alone {compute_only:.2f} s -> "
          f"wall / max {res['ratio_wall_over_max']:.2f}, wall / sum {res['ratio_wall_over_sum']:.2f} "
          f"({res['variant']} variant)")
    print("breakdown (s): " + ", ".join(f"{k} {v:.4f}" for k, v in res["breakdown_s"].items()))


if __name__ == "__main__":
    main()
