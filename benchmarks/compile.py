"""Cold and warm compile seconds of each experiment's outer-step functions (hybrid meta-gradient,
plain K-step train), built from the config alone (hg_jax/abstract_step.py: abstract shapes, no data).

    python benchmarks/compile.py [--variant small] [--experiments nyu,mbii] [--quick]
    python benchmarks/compile.py --quick --lever model.scan_stacks=true --out compile_scan_stacks

Each measurement runs in a fresh process: "cold" with an empty persistent cache directory, "warm"
a second process on the same directory (what a repeat launch.py run sees). Lowering (Python
tracing to StableHLO) is timed apart from XLA's compile: the cache skips only the latter; ``run_s``
is one call of the compiled function (median of 3, zero inputs). ``--lever KEY=VALUE`` measures
each experiment a second time with that config override, in the same run, and reports
lever / default per figure. Writes benchmarks/results/<--out>.json (default compile.json, the one
run_all's table reads). Goal: <= 30 s per function.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
RESULTS = os.path.join(HERE, "results")
EXPERIMENTS = ("mbii", "nyu", "faces", "intrinsic")

_CHILD = r"""
import json, statistics, sys, time
from hg_jax.runtime import enable_compile_cache
enable_compile_cache(sys.argv[3])
import jax, jax.numpy as jnp
from benchmarks.compare import load_config, with_overrides
from hg_jax import abstract_step
step = abstract_step.build(with_overrides(load_config(sys.argv[1] + ":" + sys.argv[2]), **json.loads(sys.argv[4])))
args = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), step.args)
out = {}
for name in ("train_only", "meta_grad"):
    t0 = time.perf_counter(); low = getattr(step, name).lower(*step.args)
    t1 = time.perf_counter(); fn = low.compile(); t2 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    runs = []
    for _ in range(3):
        t3 = time.perf_counter(); jax.block_until_ready(fn(*args)); runs.append(time.perf_counter() - t3)
    out[name] = {"lower_s": t1 - t0, "compile_s": t2 - t1, "run_s": statistics.median(runs),
                 "stablehlo_lines": low.as_text().count("\n")}
print(json.dumps(out))
"""


def measure(experiment: str, variant: str, cache: str, overrides: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-c", _CHILD, os.path.join(ROOT, "configs", f"{experiment}.py"),
                        variant, cache, json.dumps(overrides)], check=True, capture_output=True, text=True, env=env)
    return json.loads(r.stdout.strip().splitlines()[-1])


def cold_and_warm(experiment: str, variant: str, overrides: dict) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        return {"cold": measure(experiment, variant, cache, overrides),
                "warm": measure(experiment, variant, cache, overrides)}


def report(label: str, r: dict) -> None:
    for fn in r["cold"]:
        c, w = r["cold"][fn], r["warm"][fn]
        print(f"{label} {fn}: cold {c['lower_s']:.1f} s lower + {c['compile_s']:.1f} s compile, warm "
              f"{w['lower_s']:.1f} + {w['compile_s']:.1f} s, run {c['run_s'] * 1e3:.0f} ms "
              f"({c['stablehlo_lines']} StableHLO lines)", flush=True)


def main():
    from benchmarks.compare import parse_overrides

    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", default="")
    ap.add_argument("--experiments", default=",".join(EXPERIMENTS))
    ap.add_argument("--quick", action="store_true", help="only nyu (the experiments share one network)")
    ap.add_argument("--lever", action="append", default=[], metavar="KEY=VALUE",
                    help="also measure with this config override (repeatable: one combined override)")
    ap.add_argument("--out", default="compile", help="result name: benchmarks/results/<out>.json")
    a = ap.parse_args()
    names = ["nyu"] if a.quick else a.experiments.split(",")
    lever = parse_overrides(a.lever)
    result = {"variant": a.variant, "goal_s": 30.0, "experiments": {}}
    if lever:
        result["lever"] = lever
    for name in names:
        label = f"{name}{':' + a.variant if a.variant else ''}"
        r = cold_and_warm(name, a.variant, {})
        report(label, r)
        if lever:
            lv = cold_and_warm(name, a.variant, lever)
            report(f"{label} with {lever}", lv)
            r["with_lever"] = lv
            r["lever_over_default"] = {
                when: {fn: {k: lv[when][fn][k] / r[when][fn][k] for k in r[when][fn] if r[when][fn][k]}
                       for fn in r[when]} for when in ("cold", "warm")}
            for fn in r["cold"]:
                q = r["lever_over_default"]["cold"][fn]
                print(f"{label} {fn} lever / default: lower {q['lower_s']:.2f}, compile {q['compile_s']:.2f}, "
                      f"run {q['run_s']:.2f}, lines {q['stablehlo_lines']:.2f}", flush=True)
        result["experiments"][name] = r
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"{a.out}.json"), "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
