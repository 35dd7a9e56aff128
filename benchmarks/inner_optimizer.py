"""The paper's inner optimizer is SGD (Eq. 6); the rendered experiments default to Adam. Why, measured:
the same network trained with β fixed at β0 for the same outer steps with each optimizer, and the
β*-domain test loss and validation loss it reaches.

    python benchmarks/inner_optimizer.py [--config configs/nyu_control.py] [--outer-steps 30] [--seeds 0]

Writes benchmarks/results/inner_optimizer.json. Only the fixed row runs (no β updates), so the
figure is about how far each optimizer trains the network in the budget, nothing else.
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

CANDIDATES = (("adam", 3e-3), ("sgd", 0.03), ("sgd", 0.1), ("sgd", 0.3), ("momentum", 0.01))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "nyu_control.py"))
    ap.add_argument("--outer-steps", type=int, default=30)
    ap.add_argument("--seeds", default="0")
    a = ap.parse_args()
    from benchmarks.compare import load_config, run_row, with_overrides
    from hg_jax import experiments
    from hg_jax.runtime import enable_compile_cache, tune_malloc

    tune_malloc()
    enable_compile_cache()
    config = with_overrides(load_config(a.config), outer_steps=a.outer_steps, eval_every=a.outer_steps)
    setup = experiments.build(config)
    rows = []
    workdir = os.path.join(ROOT, "runs", "inner_optimizer")
    for opt, lr in CANDIDATES:
        for seed in (int(s) for s in a.seeds.split(",")):
            t = time.perf_counter()
            r = run_row(config, setup, os.path.join(workdir, f"{opt}_{lr}_{seed}"), method="fixed", seed=seed,
                        **{"inner.optimizer": opt, "inner.learning_rate": lr})["row"]
            test = next(iter(r["test"].values()))
            rows.append({"optimizer": opt, "learning_rate": lr, "seed": seed, "val_loss": r["val_loss"],
                         "test_loss": test["loss"], "wall_s": time.perf_counter() - t})
            print(f"{opt:>8} lr {lr:<6} seed {seed}: val loss {r['val_loss']:.4f}  test loss {test['loss']:.4f}",
                  flush=True)
    by = {}
    for r in rows:
        by.setdefault(f"{r['optimizer']} {r['learning_rate']}", []).append(r["test_loss"])
    out = {"config": os.path.relpath(a.config.partition(":")[0], ROOT), "outer_steps": a.outer_steps,
           "unroll_steps": int(config.inner.unroll_steps), "rows": rows,
           "test_loss_mean": {k: float(np.mean(v)) for k, v in by.items()},
           "command": "python benchmarks/inner_optimizer.py " + " ".join(sys.argv[1:])}
    os.makedirs(os.path.join(ROOT, "benchmarks", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "benchmarks", "results", "inner_optimizer.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
