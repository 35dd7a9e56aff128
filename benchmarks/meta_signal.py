"""Is ⟨∂L/∂X, X(β+δ) − X(β−δ)⟩ (hybrid's scalar per direction) a good stand-in for L⁺ − L⁻ (what
random search measures by training on each side), and from which outer step on?

    python benchmarks/meta_signal.py [--config configs/nyu_control.py] [--warmup 0,1,2,6] [--directions 8]

For each warm-up w the network trains w outer steps on f(β0) (as a row's warm-up does); then, at
that network and one step's seeds, for each random unit direction u (and for u along β* − β0 when
the setup has a β*) it computes both scalars with δ = σ·u and reports their correlation over the
directions, the ratio of their sizes, and whether the β* direction gets the right sign. Writes
benchmarks/results/meta_signal.json. This is why ``beta_opt.warmup_steps`` exists: at the random
initial network (w = 0) with Adam, the meta-gradient scalars are hundreds of times too large and
barely correlated with the measured differences; after a couple of outer steps they track them.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


@contextlib.contextmanager
def session(config):
    """The experiment's setup, render pools, trainer, a fixed-β estimator and the seed's initial state
    (``beta_opt.warmup_steps`` 0: the caller decides how many outer steps to warm up)."""
    import jax

    from benchmarks.compare import with_overrides
    from hg_jax import experiments
    from hg_jax.core import loop, trainer as trainer_lib
    from hg_jax.core.bridge import Pools
    from hg_jax.core.estimators.base import Context, make

    config = with_overrides(config, **{"beta_opt.warmup_steps": 0})
    experiments.validate(config)
    setup = experiments.build(config)
    with Pools({"beta": setup.sampler}, config.render.num_workers) as pools:
        trainer = trainer_lib.from_config(config, setup)
        beta_opt = loop.make_beta_optimizer(config.beta_opt, loop.beta_updates(config))
        fixed = make("fixed", config, Context(schema=setup.sampler.schema, batch_shape=trainer.batch_shape))
        state = loop.init_state(trainer, beta_opt, setup.beta0, jax.random.PRNGKey(config.seed), setup.input_shape)

        def warm(st):
            st, _ = loop.outer_step(st, fixed, trainer, pools, beta_opt)
            return st

        yield setup, pools, trainer, state, warm


def scalars(trainer, pools, st, deltas, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Per δ (rows of ``deltas``), at the network of ``st`` and the seeds of outer step ``step``:
    hybrid's ⟨∂L/∂X, X(β+δ) − X(β−δ)⟩ and random search's measured L(β+δ) − L(β−δ)."""
    import jax

    from hg_jax.core.estimators.base import RenderRequest, seeds_for, step_keys
    from hg_jax.core.estimators.hybrid import inner

    seeds = seeds_for(step_keys(jax.random.fold_in(st.key, step))[0], trainer.batch_shape)
    probes = tuple(st.beta + s * u for u in deltas for s in (1, -1))
    renders = pools.submit(RenderRequest(seeds=seeds, train=st.beta, probes=probes))
    _, dX, *_ = trainer.meta_grad(st.params, st.inner_opt_state, renders.train.result(), trainer.val_batch)
    dX = jax.device_get(dX)
    pm = [(renders.probes[2 * j].result(), renders.probes[2 * j + 1].result()) for j in range(len(deltas))]
    hyb = np.array([inner(dX, p, m) for p, m in pm])
    brs = np.array([trainer.score(st.params, st.inner_opt_state, p)[0] - trainer.score(st.params, st.inner_opt_state, m)[0]
                    for p, m in pm])
    return hyb, brs


def measure(config, warmups, n_dir: int, eps: float) -> dict:
    out = []
    with session(config) as (setup, pools, trainer, state, warm):
        d = setup.beta0.size
        dirs = [np.random.default_rng(i).standard_normal(d) for i in range(n_dir)]
        names = [f"random {i}" for i in range(n_dir)]
        if setup.beta_star is not None:
            dirs.append(setup.beta_star - setup.beta0)
            names.append("beta_star")
        dirs = [u / np.linalg.norm(u) for u in dirs]
        for w in range(max(warmups) + 1):
            if w in warmups:
                hyb, brs = scalars(trainer, pools, state, [eps * u for u in dirs], 10_000 + w)  # seeds no training step uses
                r = slice(0, n_dir)
                row = {"warmup": w, "corr": float(np.corrcoef(hyb[r], brs[r])[0, 1]),
                       "size_ratio": float(np.abs(hyb[r]).mean() / np.abs(brs[r]).mean()),
                       "hybrid": hyb.tolist(), "random_search": brs.tolist(), "directions": names}
                if setup.beta_star is not None:
                    row["beta_star_sign"] = {"hybrid": float(np.sign(hyb[-1])), "random_search": float(np.sign(brs[-1]))}
                out.append(row)
                print(f"warm-up {w}: corr {row['corr']:+.3f}  |hybrid| / |L+ - L-| {row['size_ratio']:.3g}"
                      + (f"  β* direction sign: hybrid {row['beta_star_sign']['hybrid']:+.0f}, "
                         f"random search {row['beta_star_sign']['random_search']:+.0f}" if "beta_star_sign" in row else ""),
                      flush=True)
            if w < max(warmups):
                state = warm(state)
    return {"rows": out}


def add_probe_args(ap: argparse.ArgumentParser, config: str, out: str) -> None:
    """The flags every probe script shares: which config, overrides of it, the result's name."""
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", config))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override, e.g. --set inner.optimizer=sgd (repeatable)")
    ap.add_argument("--out", default=out, help="result name in benchmarks/results/")


def run_probe(a: argparse.Namespace, script: str, measure_fn, **record) -> dict:
    """``measure_fn(config)`` on the config the flags name, with the compile cache on; its result,
    together with ``record``, the config, overrides, command and wall seconds, goes to
    benchmarks/results/<--out>.json and is returned."""
    from benchmarks.compare import load_config, parse_overrides, with_overrides
    from hg_jax.runtime import enable_compile_cache

    enable_compile_cache()
    overrides = parse_overrides(a.set)
    t = time.perf_counter()
    res = measure_fn(with_overrides(load_config(a.config), **overrides))
    res.update(record, overrides=overrides, config=os.path.relpath(os.path.abspath(a.config.partition(":")[0]), ROOT),
               command=f"python benchmarks/{script} " + " ".join(sys.argv[1:]), wall_s=time.perf_counter() - t)
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "benchmarks", "results", a.out + ".json"), "w") as f:
        json.dump(res, f, indent=1)
    return res


def main():
    ap = argparse.ArgumentParser()
    add_probe_args(ap, "nyu_control.py", "meta_signal")
    ap.add_argument("--warmup", default="0,1,2,6")
    ap.add_argument("--directions", type=int, default=8)
    ap.add_argument("--eps", type=float, default=0.1, help="‖δ‖ along each unit direction")
    a = ap.parse_args()
    warmups = sorted(int(w) for w in a.warmup.split(","))
    run_probe(a, "meta_signal.py", lambda config: measure(config, warmups, a.directions, a.eps), eps=a.eps)


if __name__ == "__main__":
    main()
