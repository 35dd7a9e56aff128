"""Efficiency comparison under equal accounting (paper Tables 1–2, Fig. 4).

    python benchmarks/compare.py --config configs/mbii.py [--budget-s 600] [--random-betas 10]
                                 [--methods hybrid,random_search,reinforce,evolution] [--workdir DIR]

Every method runs from the same initial network and β0 with the same wall-clock budget (each row
stops at its first outer step past ``--budget-s``); metrics.jsonl of each holds cumulative render
and compute seconds and the test metrics every ``eval_every`` steps. Table 1 protocol: ``--random-betas``
fixed random β (method random_beta, seeds 0..N-1), best / median / worst selected by validation
loss only, then hybrid started from each of those three β. Writes
benchmarks/results/compare_<experiment>.json and .png, prints the tables and the ratio
(time for hybrid to reach random_search's final validation loss) / (random_search's time).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
RESULTS = os.path.join(ROOT, "benchmarks", "results")


def load_config(path: str):
    import importlib.util

    path, _, variant = path.partition(":")
    spec = importlib.util.spec_from_file_location("compare_cfg", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.get_config(variant)


def run_row(config, workdir, **overrides):
    from hg_jax.experiment import run

    c = config.copy_and_resolve_references()
    c.unlock()
    for k, v in overrides.items():
        node = c
        *parents, leaf = k.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = v
    c.lock()
    report = run(c, workdir)
    lines = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
    return report, [l for l in lines if l["row"] == c.method]


def smoothed(values, k=3):
    v = np.asarray(values, np.float64)
    return np.array([v[max(0, i - k + 1):i + 1].mean() for i in range(len(v))])


def time_to_reach(lines, target: float, clock: str = "wall_s"):
    vals = smoothed([l["val_loss"] for l in lines])
    hit = np.nonzero(vals <= target)[0]
    return None if len(hit) == 0 else float(lines[int(hit[0])][clock])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "mbii.py"))
    ap.add_argument("--budget-s", type=float, default=600.0)
    ap.add_argument("--methods", default="hybrid,random_search,reinforce,evolution")
    ap.add_argument("--random-betas", type=int, default=10, help="Table 1 protocol: how many random β")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "runs", "compare"))
    args = ap.parse_args()
    from hg_jax.methods.base import available

    config = load_config(args.config)
    name = config.experiment
    common = {"budget_s": args.budget_s, "outer_steps": 100_000, "baselines": ()}
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(available()))
    if unknown:
        sys.exit(f"--methods: {unknown} not in {available()}")
    # Equal accounting of steady-state cost: every method's jitted functions are compiled once in a
    # throw-away warm-up row and then loaded from JAX's persistent cache, so no budget pays for XLA
    # compilation (which differs a lot between a meta-gradient and a plain training unroll).
    import jax
    jax.config.update("jax_compilation_cache_dir", os.path.join(args.workdir, "jax_cache"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    for m in sorted(set(methods) | ({"random_beta", "hybrid"} if args.random_betas else set())):
        run_row(config, os.path.join(args.workdir, "warmup", m), method=m, outer_steps=1, baselines=(),
                eval_every=1)
    rows, curves = {}, {}
    for m in methods:
        rep, lines = run_row(config, os.path.join(args.workdir, m), method=m, **common)
        rows[m], curves[m] = rep["rows"][m], lines
        print(f"{m}: {len(lines)} steps, val_loss {rep['rows'][m]['val_loss']:.4g}", flush=True)

    table1 = None
    if args.random_betas:
        fixed = []
        for seed in range(args.random_betas):
            rep, lines = run_row(config, os.path.join(args.workdir, f"random_beta_{seed}"),
                                 method="random_beta", seed=seed, **common)
            fixed.append({"seed": seed, "beta": rep["beta"], **rep["rows"]["random_beta"]})
        order = sorted(fixed, key=lambda r: r["val_loss"])          # selection by validation loss only
        picks = {"best": order[0], "median": order[len(order) // 2], "worst": order[-1]}
        table1 = {}
        for label, r in picks.items():
            rep, lines = run_row(config, os.path.join(args.workdir, f"hybrid_from_{label}"),
                                 method="hybrid", beta_init=tuple(r["beta"]), seed=r["seed"], **common)
            table1[label] = {"random_beta": {"seed": r["seed"], "val_loss": r["val_loss"], "test": r["test"]},
                             "hybrid_from_it": {"val_loss": rep["rows"]["hybrid"]["val_loss"],
                                                "test": rep["rows"]["hybrid"]["test"]}}

    ratio = None
    if "hybrid" in curves and "random_search" in curves:
        rs = curves["random_search"]
        target = float(smoothed([l["val_loss"] for l in rs])[-1])
        t_h = time_to_reach(curves["hybrid"], target)
        ratio = {"target_val_loss": target, "hybrid_s": t_h, "random_search_s": rs[-1]["wall_s"],
                 "ratio": None if t_h is None else t_h / rs[-1]["wall_s"]}

    result = {"experiment": name, "budget_s": args.budget_s, "rows": rows, "table1": table1,
              "ratio_hybrid_to_random_search": ratio,
              "curves": {m: [{k: l.get(k) for k in ("step", "wall_s", "render_s", "compute_s", "val_loss", "test")}
                             for l in ls] for m, ls in curves.items()}}
    os.makedirs(RESULTS, exist_ok=True)
    out = os.path.join(RESULTS, f"compare_{name}.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    plot(result, os.path.join(RESULTS, f"compare_{name}.png"))
    print_tables(result)
    print(f"saved {out}")


def _main_metric(test: dict):
    test_set = next(iter(test))
    return test_set, test[test_set]


def print_tables(result):
    print("\nTable 2 style (test set, final network of each method)")
    rows = result["rows"]
    first = next(iter(rows.values()))
    test_set, metrics = _main_metric(first["test"])
    cols = list(metrics)
    print(f"{'method':>14} " + " ".join(f"{c:>12}" for c in cols) + f" {'wall_s':>8}")
    for m, r in rows.items():
        vals = r["test"][test_set]
        print(f"{m:>14} " + " ".join(f"{vals[c]:12.4g}" for c in cols) + f" {r['timings'].get('wall_s', 0):8.0f}")
    if result["table1"]:
        print("\nTable 1 protocol (selected by validation loss)")
        for label, r in result["table1"].items():
            a = r["random_beta"]["test"][test_set]
            b = r["hybrid_from_it"]["test"][test_set]
            k = cols[0]
            print(f"{label:>8}: random β {k} {a[k]:.4g} -> hybrid from it {b[k]:.4g}")
    ratio = result["ratio_hybrid_to_random_search"]
    if ratio:
        print(f"\nhybrid reaches random_search's final val loss {ratio['target_val_loss']:.4g} after "
              f"{ratio['hybrid_s']} s vs {ratio['random_search_s']:.0f} s: ratio {ratio['ratio']}")


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for m, lines in result["curves"].items():
        tested = [l for l in lines if l.get("test")]
        if not tested:
            continue
        test_set, metrics = _main_metric(tested[0]["test"])
        key = next(iter(metrics))
        for ax, clock in zip(axes, ("render_s", "compute_s")):
            ax.plot([l[clock] for l in tested], [l["test"][test_set][key] for l in tested], marker="o", label=m)
            ax.set(xlabel=f"cumulative {clock.replace('_s', '')} seconds", ylabel=f"test {key}")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
