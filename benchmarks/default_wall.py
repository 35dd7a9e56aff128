"""Wall time of the README's default commands at this checkout and at an older commit, in one session.

    python benchmarks/default_wall.py --old 52b4fa3                  # NYU and MBII, ~35 min here
    python benchmarks/default_wall.py --old 52b4fa3 --repeat         # + a second run here, ~45 min
    python benchmarks/default_wall.py --old 52b4fa3 --experiments nyu

For each experiment it runs ``python launch.py --config configs/<exp>.py --workdir W`` here (compile
cache in a fresh empty directory, as on a new machine) and then the same command in a git worktree
of ``--old`` (52b4fa3: the last commit before the speed issue was filed; it has no compile cache),
one after the other, each in its own process, and times each process from start to exit. Ratios are
new / old within this one run. ``--repeat`` first runs the command here a second time, in a fresh
workdir on the cache the first run filled: what every later run of the experiment on this machine
sees (the old commit has no cache, so each of its runs is a first run). The repeat must train the
same rows to the same step with no skipped β update, or the script fails; how far its β and losses
drifted from the first run's is recorded. Both checkouts read the data from ``HG_JAX_DATA`` (default
../shared/data). The old worktree is made in a temporary directory and removed at the end. Writes
benchmarks/results/<--out>.json.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")


def timed(cmd: list[str], cwd: str, log: str, env: dict) -> dict:
    t = time.perf_counter()
    with open(log, "w") as f:
        rc = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode
    wall = time.perf_counter() - t
    if rc != 0:
        raise SystemExit(f"{' '.join(cmd)} (in {cwd}) exited {rc}; its output: {log}")
    return {"wall_s": round(wall, 1), "log": log}


def check_repeat(first: str, second: str) -> dict:
    """Fail unless the repeat run did the first run's work: the same rows, each to the same outer
    step, none with a skipped β update. -> how far their results differ: the renders were not
    bit-reproducible before pyrender's light order was fixed (README, "Resume"), so a repeat's losses
    and β could drift from the first run's; this records it rather than assuming it away."""
    a, b = (json.load(open(os.path.join(w, "report.json"))) for w in (first, second))
    if list(a["rows"]) != list(b["rows"]):
        raise SystemExit(f"repeat run has rows {list(b['rows'])}, the first run {list(a['rows'])}")
    steps = {}
    for w in (first, second):
        for line in open(os.path.join(w, "metrics.jsonl")):
            r = json.loads(line)
            steps.setdefault(w, {})[r["row"]] = r["step"]
    if steps[first] != steps[second]:
        raise SystemExit(f"rows ended at different steps: first {steps[first]}, repeat {steps[second]}")
    out = {"val_loss_rel_diff": 0.0, "beta_max_abs_diff": 0.0}
    for name, ra in a["rows"].items():
        rb = b["rows"][name]
        for r, which in ((ra, first), (rb, second)):
            if r["skipped_updates"]:
                raise SystemExit(f"{which}: row {name} skipped {r['skipped_updates']} β updates")
        out["val_loss_rel_diff"] = max(out["val_loss_rel_diff"],
                                       abs(ra["val_loss"] - rb["val_loss"]) / max(abs(ra["val_loss"]), 1e-12))
        out["beta_max_abs_diff"] = max(out["beta_max_abs_diff"],
                                       max(abs(x - y) for x, y in zip(ra["beta"], rb["beta"])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True, help="the commit to compare with (e.g. 52b4fa3)")
    ap.add_argument("--experiments", default="nyu,mbii", help="comma-separated configs/<name>.py[:variant]")
    ap.add_argument("--out", default="default_wall", help="results/<out>.json")
    ap.add_argument("--repeat", action="store_true", help="also time a second run here on the warm cache")
    args = ap.parse_args()
    data = os.environ.get("HG_JAX_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data"))
    env = {**os.environ, "HG_JAX_DATA": os.path.abspath(data)}
    old = subprocess.run(["git", "rev-parse", args.old], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout.strip()
    new = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                check=True, capture_output=True, text=True).stdout.strip())
    scratch = tempfile.mkdtemp(prefix="default_wall_")
    tree = os.path.join(scratch, "old")
    subprocess.run(["git", "worktree", "add", "--detach", tree, old], cwd=ROOT, check=True,
                   capture_output=True)
    out = {"old": old, "new": new, "new_uncommitted_changes": dirty, "nproc": os.cpu_count(),
           "date": datetime.datetime.now().isoformat(timespec="seconds"), "experiments": {}}
    try:
        for exp in args.experiments.split(","):
            res = {}
            cache = ["--compile_cache", os.path.join(scratch, f"cache_{exp}")]
            runs = [("new", ROOT, cache)] + ([("new_repeat", ROOT, cache)] if args.repeat else []) + [("old", tree, [])]
            for which, cwd, extra in runs:
                name, _, variant = exp.partition(":")
                cmd = [sys.executable, "launch.py", "--config", f"configs/{name}.py" + (f":{variant}" if variant else ""),
                       "--workdir", os.path.join(scratch, f"{which}_{exp}")] + extra
                res[which] = timed(cmd, cwd, os.path.join(scratch, f"{which}_{exp}.log"), env)
                print(f"{exp:>5} {which}: {res[which]['wall_s']:.0f} s", flush=True)
            res["new_over_old"] = round(res["new"]["wall_s"] / res["old"]["wall_s"], 3)
            print(f"{exp:>5} new / old = {res['new_over_old']:.2f}", flush=True)
            if args.repeat:
                res["repeat_vs_first"] = check_repeat(*(os.path.join(scratch, f"{w}_{exp}")
                                                                 for w in ("new", "new_repeat")))
                res["new_repeat_over_old"] = round(res["new_repeat"]["wall_s"] / res["old"]["wall_s"], 3)
                print(f"{exp:>5} new (repeat run) / old = {res['new_repeat_over_old']:.2f}", flush=True)
            out["experiments"][exp] = res
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", tree], cwd=ROOT, capture_output=True)
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, f"{args.out}.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
