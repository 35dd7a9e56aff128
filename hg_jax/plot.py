"""Plot one or many workdirs: validation loss and test metric vs wall time, β components vs step.

    python -m hg_jax.plot runs/a runs/b [--metric mean_angle] [--out plot.png]
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from hg_jax import cli
from hg_jax.errors import DataNotFound


def load_metrics(workdir: str) -> list[dict]:
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        raise DataNotFound(f"{path} not found: is {workdir} a run directory?")
    out = []
    for line in open(path):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return out


def _first_metric(lines) -> str | None:
    for l in lines:
        for metrics in l.get("test", {}).values():
            return next(iter(metrics))
    return None


def plot(workdirs: list[str], out: str, metric: str | None = None) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_val, ax_test, ax_beta) = plt.subplots(1, 3, figsize=(15, 4))
    for w in workdirs:
        lines = load_metrics(w)
        metric = metric or _first_metric(lines)
        for row in dict.fromkeys(l["row"] for l in lines):
            mine = [l for l in lines if l["row"] == row]
            label = f"{os.path.basename(os.path.normpath(w))}:{row}"
            ax_val.plot([l["wall_s"] for l in mine], [l["val_loss"] for l in mine], label=label)
            tested = [l for l in mine if "test" in l]
            for test_set in (tested[0]["test"] if tested else {}):
                if metric in tested[0]["test"][test_set]:
                    ax_test.plot([l["wall_s"] for l in tested], [l["test"][test_set][metric] for l in tested],
                                 marker="o", label=f"{label} {test_set}")
            betas = np.array([l["beta"] for l in mine])
            for i in range(betas.shape[1]):
                ax_beta.plot([l["step"] for l in mine], betas[:, i], lw=1,
                             label=f"{label} β[{i}]" if len(workdirs) == 1 else None)
    ax_val.set(xlabel="wall time (s)", ylabel="validation loss L", title="validation loss")
    ax_test.set(xlabel="wall time (s)", ylabel=metric or "", title=f"test {metric or ''}")
    ax_beta.set(xlabel="outer step", ylabel="β (unconstrained)", title="β components")
    for ax in (ax_val, ax_test, ax_beta):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def main(argv=None):
    ap = cli.ArgumentParser(prog="python -m hg_jax.plot")
    ap.add_argument("workdirs", nargs="+", type=cli.path)
    ap.add_argument("--metric", default=None, help="test metric to plot (default: the first logged)")
    ap.add_argument("--out", default=None, type=cli.path, help="PNG path (default: <first workdir>/plot.png)")
    args = ap.parse_args(argv)
    print(plot(args.workdirs, args.out or os.path.join(args.workdirs[0], "plot.png"), args.metric))


if __name__ == "__main__":
    cli.main(main)
