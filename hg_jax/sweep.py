"""Config sweeps as submitit job arrays (SLURM on a cluster, local processes for tests), and a summary.

A config module may define ``get_sweep() -> list[dict]`` of flattened overrides
(``{"hybrid.sigma": 0.1, "seed": 1}``). Each point runs ``experiment.run`` in its own workdir
``ROOT/<index>_<overrides>``. A preempted or timed-out SLURM job is requeued by submitit (the job is
``Checkpointable``) and resumes from its workdir's last checkpoint; the experiment also checkpoints
on the SIGTERM that precedes preemption.

    python launch.py --config configs/mbii.py --sweep --launcher slurm --workdir runs/sweep \
        --slurm.partition=gpu --slurm.gpus_per_task=1 --slurm.timeout_min=240
    python -m hg_jax.sweep summary runs/sweep
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import re

import submitit

from hg_jax import cli
from hg_jax.errors import ConfigError, UsageError

LAUNCHERS = ("local", "slurm")


def point_name(index: int, overrides: dict) -> str:
    text = "_".join(f"{k.split('.')[-1]}={v}" for k, v in sorted(overrides.items()))
    return f"{index:03d}_" + re.sub(r"[^A-Za-z0-9=._-]+", "-", text)[:80]


def apply_overrides(config, overrides: dict, where: str):
    config = copy.deepcopy(config)
    for key, value in overrides.items():
        node = config
        *parents, leaf = key.split(".")
        try:
            for p in parents:
                node = node[p]
            if leaf not in node:
                raise KeyError(leaf)
        except (KeyError, AttributeError):
            raise ConfigError(f"{where}: override {key!r} is not a config field") from None
        node[leaf] = value
    return config


class SweepJob(submitit.helpers.Checkpointable):
    """One sweep point. On preemption/timeout submitit resubmits it with the same arguments."""

    def __call__(self, config, workdir: str) -> dict:
        from hg_jax.experiment import run

        return run(config, workdir)


def launch(config, sweep: list[dict], root: str, launcher: str = "local", slurm: dict | None = None,
           wait: bool | None = None):
    """Submit every point as one job array; returns the submitit jobs (waits for local ones)."""
    if launcher not in LAUNCHERS:
        raise UsageError(f"--launcher {launcher!r} is unknown (sweep): allowed {LAUNCHERS}")
    if not sweep:
        raise ConfigError("get_sweep() returned no points (sweep): allowed a non-empty list of overrides")
    from hg_jax import experiments

    configs, workdirs = [], []
    for i, overrides in enumerate(sweep):
        c = apply_overrides(config, overrides, f"sweep point {i}")
        experiments.validate(c)     # every point fails fast, before anything is submitted
        configs.append(c)
        workdirs.append(os.path.join(root, point_name(i, overrides)))
    folder = os.path.join(root, "submitit")
    if launcher == "local":
        executor = submitit.LocalExecutor(folder=folder)
        executor.update_parameters(timeout_min=int((slurm or {}).get("timeout_min", 60)))
    else:
        executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
        s = slurm or {}
        params = {"timeout_min": int(s.get("timeout_min", 240)), "slurm_array_parallelism": len(sweep),
                  "cpus_per_task": int(s.get("cpus_per_task", 4))}
        if s.get("partition"):
            params["slurm_partition"] = s["partition"]
        if s.get("gpus_per_task") is not None:
            params["gpus_per_node"] = int(s["gpus_per_task"])
        executor.update_parameters(**params)
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "sweep.json"), "w") as f:
        json.dump([{"workdir": w, "overrides": o} for w, o in zip(workdirs, sweep)], f, indent=1)
    jobs = executor.map_array(SweepJob(), configs, workdirs)
    if wait if wait is not None else launcher == "local":
        for j in jobs:
            j.result()
    return jobs


def summary(root: str) -> list[dict]:
    """One row per sweep point with a report.json: overrides, val loss and test metrics of the main row."""
    index = os.path.join(root, "sweep.json")
    points = json.load(open(index)) if os.path.exists(index) else [
        {"workdir": os.path.join(root, d), "overrides": {}} for d in sorted(os.listdir(root))]
    rows = []
    for p in points:
        rep_path = os.path.join(p["workdir"], "report.json")
        if not os.path.exists(rep_path):
            rows.append({"point": os.path.basename(p["workdir"]), "status": "missing report.json"})
            continue
        rep = json.load(open(rep_path))
        main = rep["rows"][rep["method"]]
        row = {"point": os.path.basename(p["workdir"]), "status": "done", "method": rep["method"],
               "val_loss": main["val_loss"], **p["overrides"]}
        for test_set, metrics in main["test"].items():
            row.update({f"{test_set}/{k}": v for k, v in metrics.items()})
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    widths = {c: max(len(c), *(len(fmt(r.get(c, ""))) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines += ["  ".join(fmt(r.get(c, "")).ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(lines)


def main(argv=None):
    ap = cli.ArgumentParser(prog="python -m hg_jax.sweep")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("summary", help="gather every point's report.json into one table")
    s.add_argument("root", type=cli.path)
    s.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    args = ap.parse_args(argv)
    cli.existing_dir(args.root, "sweep root")
    rows = summary(args.root)
    print("\n".join(json.dumps(r) for r in rows) if args.json else format_table(rows))


if __name__ == "__main__":
    cli.main(main)
