"""Is the learned β better *training data*? Fresh networks trained from scratch on fixed β.

    python -m hg_jax.retrain --workdir runs/csg_control --steps 240 [--seeds 0,1,2] [--row hybrid]

For each seed, three networks start from the same initialisation (the seed's) and train the same
number of SGD steps with β held fixed at: the run's final β (``final``), its initial β (``beta0``)
and a random β (``random``: β0 + 0.5·N(0, I), drawn from the seed, as the random_beta method does).
This separates the quality of the data from the incremental training of the run's one network.
Each network is evaluated on the run's test sets (final weights, and the best-validation snapshot).
Writes ``<workdir>/retrain/<label>/seed_<s>/`` (ordinary run folders) and ``<workdir>/retrain.json``
with per-seed metrics and mean / std / min / max over seeds; prints one line per label.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

LABELS = {"final": "fixed", "beta0": "fixed", "random": "random_beta"}


def _config(report: dict):
    import ml_collections

    c = ml_collections.ConfigDict(report["config"])
    c.lock()
    return c


def retrain(workdir: str, steps: int, seeds=(0, 1, 2), row: str | None = None,
            labels=tuple(LABELS)) -> dict:
    from hg_jax import experiments
    from hg_jax.experiment import run

    workdir = os.path.abspath(os.path.expanduser(workdir))
    path = os.path.join(workdir, "report.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--workdir {workdir}: no report.json (retrain needs a finished run)")
    report = json.load(open(path))
    row = row or report["method"]
    if row not in report["rows"]:
        raise ValueError(f"--row {row!r} not in the run's rows {sorted(report['rows'])}")
    if steps < 1:
        raise ValueError(f"--steps {steps}: allowed an integer >= 1 (SGD steps per network)")
    bad = sorted(set(labels) - set(LABELS))
    if bad:
        raise ValueError(f"--labels {bad}: allowed {sorted(LABELS)}")
    base = _config(report)
    betas = {"final": report["rows"][row]["beta"], "beta0": report["rows"][row]["beta_initial"]}
    betas["random"] = betas["beta0"]          # random_beta draws around it from the seed
    outer = math.ceil(steps / int(base.inner.unroll_steps))
    experiments.validate(base)
    setup = experiments.build(base)
    out = {"workdir": workdir, "row": row, "steps": outer * int(base.inner.unroll_steps),
           "outer_steps": outer, "seeds": list(seeds), "runs": {}, "summary": {}}
    for label in labels:
        runs = []
        for seed in seeds:
            c = base.copy_and_resolve_references()
            with c.unlocked():
                c.method, c.baselines, c.seed = LABELS[label], (), int(seed)
                c.beta_init, c.outer_steps = tuple(betas[label]), outer
                c.eval_every, c.budget_s, c.checkpoint_every = outer, 0.0, outer
                c.random_beta.count = 1
            rep = run(c, os.path.join(workdir, "retrain", label, f"seed_{seed}"), setup=setup)
            r = rep["rows"][c.method]
            runs.append({"seed": int(seed), "beta": r["beta"], "val_loss": r["val_loss"], "test": r["test"],
                         "best": r["best"], "beta_error": r.get("beta_error")})
        out["runs"][label] = runs
        out["summary"][label] = summarise([r["test"] for r in runs])
    with open(os.path.join(workdir, "retrain.json"), "w") as f:
        json.dump(out, f, indent=1)
    return out


def summarise(tests: list[dict]) -> dict:
    """{test set: {metric: {mean, std, min, max}}} over a list of per-seed test dicts."""
    out = {}
    for name in tests[0]:
        out[name] = {}
        for m in tests[0][name]:
            v = np.array([t[name][m] for t in tests], np.float64)
            out[name][m] = {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()),
                            "max": float(v.max())}
    return out


def format_summary(result: dict) -> str:
    lines = [f"retrained {result['steps']} SGD steps from scratch, seeds {result['seeds']} (mean ± std):"]
    for label, per_set in result["summary"].items():
        parts = []
        for name, metrics in per_set.items():
            shown = [m for m in ("loss", "mean_angle", "median_angle", "abs_rel", "rmse", "mse") if m in metrics][:3]
            parts.append(f"{name} " + ", ".join(f"{m} {metrics[m]['mean']:.4g} ± {metrics[m]['std']:.2g}"
                                                 for m in shown))
        lines.append(f"  {label:>7}: " + "; ".join(parts))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hg_jax.retrain", description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", required=True, help="a finished run (holds report.json)")
    ap.add_argument("--steps", type=int, required=True, help="SGD steps per fresh network")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated network / data seeds")
    ap.add_argument("--row", default=None, help="which row's final β (default: the run's method)")
    ap.add_argument("--labels", default=",".join(LABELS), help=f"subset of {','.join(LABELS)}")
    args = ap.parse_args(argv)
    try:
        seeds = tuple(int(s) for s in args.seeds.split(",") if s != "")
    except ValueError:
        ap.error(f"--seeds {args.seeds!r}: allowed comma-separated integers >= 0")
    from hg_jax.runtime import tune_malloc

    tune_malloc()
    result = retrain(args.workdir, args.steps, seeds, args.row, tuple(l for l in args.labels.split(",") if l))
    print(format_summary(result))
    print(f"saved {os.path.join(result['workdir'], 'retrain.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
