"""Markdown tables of the comparisons benchmarks/compare.py wrote (what the README shows).

    python benchmarks/compare_report.py benchmarks/results/compare_nyu_control_m16.json [...]
    python benchmarks/compare_report.py --retrain benchmarks/results/retrain_nyu_control_m16_*.json
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.compare import summary  # noqa: E402  (the mean ± std every compare figure uses)


def _pm(s: dict, fmt: str = "{:.3f}") -> str:
    return "–" if "mean" not in s else (fmt + " ± " + fmt).format(s["mean"], s["std"])


def _lowest(result: dict, seed: str) -> str:
    """Where hybrid's β error was lowest on the way: a run that approaches β* and drifts back out
    ends with a ratio that hides it."""
    curve = result.get("curves", {}).get("hybrid", {}).get(seed, {}).get("beta_error")
    if not curve or not curve["value"]:
        return ""
    i = min(range(len(curve["value"])), key=curve["value"].__getitem__)
    return f" (lowest {curve['value'][i] / curve['value'][0]:.2f}, at step {curve['step'][i]:.0f})"


def controlled(result: dict) -> str:
    ts = next(iter(next(iter(result["final"].values()))["test"]))
    lines = [f"`{result['command']}` — {result['outer_steps']} outer steps, seeds {result['seeds']}; "
             "mean ± std over seeds",
             "",
             "| method | beta_error start → end | test loss (β* domain) | test mean angle ° | "
             "best-val snapshot test loss | wall s | renders |",
             "|---|---|---|---|---|---|---|"]
    for m, f in result["final"].items():
        be = "– (no β)" if m == "evolution" else \
            f"{f['beta_error_start']['mean']:.3f} → {_pm(f['beta_error_end'])}"
        lines.append(f"| {m} | {be} | {_pm(f['test'][ts]['loss'], '{:.4f}')} | "
                     f"{_pm(f['test'][ts]['mean_angle'], '{:.2f}')} | {_pm(f['best_test'][ts]['loss'], '{:.4f}')} | "
                     f"{f['wall_s']['mean']:.0f} | {f['renders']['mean']:.0f} |")
    for s, c in result.get("claims", {}).items():
        lines.append(f"\nseed {s}: hybrid beta_error end / start {c['beta_error_ratio']:.2f}{_lowest(result, s)}"
                     + (f"; test loss hybrid {c['test_loss_hybrid']:.4f} vs fixed β0 {c['test_loss_fixed']:.4f}"
                        if "below_fixed" in c else ""))
    for key, p in result.get("p1", {}).items():
        r = p["ratio"]
        per = ", ".join("–" if v["ratio"] is None else f"{v['ratio']:.2f}" for v in p["per_seed"].values())
        shown = f"mean {r['mean']:.2f}, range {r['min']:.2f}–{r['max']:.2f}" if r["n"] else "never reached"
        lines.append(f"\nP1 ({key}): {shown}; per seed {per} ({p['reached']} of {len(p['per_seed'])} seeds reached "
                     "random search's final value)")
    return "\n".join(lines)


def table1(result: dict) -> str:
    lines = [f"`{result['command']}` — {result['random_betas']} random fixed β per seed, seeds "
             f"{sorted(int(k) for k in result['per_seed'])}; test set, mean ± std over seeds; random β ranked by "
             "validation loss only", "",
             "| row | snapshot | mean angle ° | median angle ° | MSE | ≤ 11.25° % | ≤ 22.5° % | ≤ 30° % |",
             "|---|---|---|---|---|---|---|---|"]
    for label, snaps in result["summary"].items():
        for snap, per_set in snaps.items():
            m = next(iter(per_set.values()))
            lines.append(f"| {label if label == 'hybrid' else label + ' random β'} | "
                         f"{'best validation' if snap == 'best_val' else 'final'} | "
                         f"{_pm(m['mean_angle'], '{:.2f}')} | {_pm(m['median_angle'], '{:.2f}')} | "
                         f"{_pm(m['mse'], '{:.3f}')} | {_pm(m['within_11.25'], '{:.1f}')} | "
                         f"{_pm(m['within_22.5'], '{:.1f}')} | {_pm(m['within_30'], '{:.1f}')} |")
    return "\n".join(lines)


RETRAIN_ROWS = {("hybrid", "final"): "hybrid's final β", ("random_search", "final"): "random search's final β",
                ("hybrid", "beta0"): "β0", ("hybrid", "random"): "random β"}


def retrain(paths) -> str:
    """One table from the retrain.json files of several rows and seeds (hg_jax.retrain, one seed each)."""
    per = {}                                       # (row, label) -> {seed: run}
    for path in paths:
        result = json.load(open(path))
        for label, runs in result["runs"].items():
            for r in runs:
                per.setdefault((result["row"], label), {})[r["seed"]] = r
    lines = ["| β trained on | test loss per seed | mean ± std | test mean angle ° | validation loss per seed |",
             "|---|---|---|---|---|"]
    for key, name in RETRAIN_ROWS.items():
        if key not in per:
            continue
        runs = [per[key][s] for s in sorted(per[key])]
        ts = next(iter(runs[0]["test"]))
        loss = [r["test"][ts]["loss"] for r in runs]
        angle = [r["test"][ts]["mean_angle"] for r in runs]
        val = [r["val_loss"] for r in runs]
        lines.append(f"| {name} | {' / '.join(f'{v:.4f}' for v in loss)} | {_pm(summary(loss), '{:.4f}')} | "
                     f"{_pm(summary(angle), '{:.2f}')} | {' / '.join(f'{v:.4f}' for v in val)} |")
    return "\n".join(lines)


def main(paths) -> None:
    if paths and paths[0] == "--retrain":
        print(retrain(paths[1:]))
        return
    for path in paths:
        result = json.load(open(path))
        print(f"### {result['experiment']}\n")
        print(controlled(result) if result["protocol"] == "controlled" else table1(result))
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
