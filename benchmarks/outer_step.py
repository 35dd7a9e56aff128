"""One hybrid outer step: wall time vs max(render time, compute time), and where the time goes.

    python benchmarks/outer_step.py [--quick] [--config configs/mbii.py] [--variant small]

Measured on the config's default variant (where renders and compute are of the same order, so the
figure says whether they overlap; ``:small`` renders 20× longer than it computes), with the Trainer,
estimator and outer step a real run uses (``trainer.from_config``, ``estimators.make``,
``loop.outer_step``). ``--quick`` times fewer steps, same config. The loop submits the β±δ renders
to the worker pool and runs the meta-gradient while they render, so a step should cost about max(render, compute), not their sum. Measured in one run,
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
    from hg_jax import experiments
    from hg_jax.core import loop, trainer as trainer_lib
    from hg_jax.core.bridge import Pools
    from hg_jax.core.estimators.base import Context, make

    c = load_config(a.config + (f":{a.variant}" if a.variant else ""))
    experiments.validate(c)
    setup = experiments.build(c)
    pools = Pools({"beta": setup.sampler}, c.render.num_workers, c.render.timeout_s, c.render.max_retries)
    pools.get("beta")
    trainer = trainer_lib.from_config(c, setup)
    beta_opt = loop.make_beta_optimizer(c.beta_opt, loop.beta_updates(c))
    est = make("hybrid", c, Context(schema=setup.sampler.schema, batch_shape=trainer.batch_shape))
    state = est.init(loop.init_state(trainer, beta_opt, setup.beta0, jax.random.PRNGKey(0), setup.input_shape),
                     None)
    state, _ = loop.outer_step(state, est, trainer, pools, beta_opt)          # compile
    trainer.train(state.params, state.inner_opt_state, pools.submit(est.ask(state, jax.random.PRNGKey(1))).train.result())
    walls = []
    for _ in range(steps):
        t = time.perf_counter()
        state, _ = loop.outer_step(state, est, trainer, pools, beta_opt)
        walls.append(time.perf_counter() - t)
    wall = float(np.median(walls))

    request = est.ask(state, jax.random.fold_in(state.key, state.step))
    seeds = request.seeds
    t = time.perf_counter()
    renders = pools.submit(request)
    pend = [renders.train, *renders.probes]
    rendered = [p.result() for p in pend]
    render_only = time.perf_counter() - t
    X = rendered[0]
    t = time.perf_counter()
    Xd = jax.block_until_ready(jax.tree_util.tree_map(jnp.asarray, X))
    transfer = time.perf_counter() - t
    t = time.perf_counter()
    jax.block_until_ready(trainer.meta_grad(state.params, state.inner_opt_state, Xd, trainer.val_batch))
    compute_only = time.perf_counter() - t
    t = time.perf_counter()
    jax.block_until_ready(trainer.train_only(state.params, state.inner_opt_state, Xd, trainer.val_batch))
    forward = time.perf_counter() - t
    t = time.perf_counter()
    loop.apply_beta_gradient(beta_opt, state, np.zeros(setup.sampler.schema.size) + 1e-3)
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
    pools.close()
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
