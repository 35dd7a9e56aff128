"""Cold and warm compile seconds of each experiment's outer-step functions (hybrid meta-gradient,
plain K-step train), built from the config alone (hg_jax/abstract_step.py: abstract shapes, no data).

    python benchmarks/compile.py [--variant small] [--experiments nyu,mbii] [--quick]

Each measurement runs in a fresh process: "cold" with an empty persistent cache directory, "warm"
a second process on the same directory (what a repeat launch.py run sees). Lowering (Python
tracing to StableHLO) is timed apart from XLA's compile: the cache skips only the latter.
Writes benchmarks/results/compile.json. Goal: <= 30 s per function.
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
RESULTS = os.path.join(HERE, "results")
EXPERIMENTS = ("mbii", "nyu", "faces", "intrinsic")

_CHILD = r"""
import json, sys, time
from hg_jax.runtime import enable_compile_cache
enable_compile_cache(sys.argv[3])
import importlib.util
from hg_jax import abstract_step
spec = importlib.util.spec_from_file_location("cfg", sys.argv[1])
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
step = abstract_step.build(mod.get_config(sys.argv[2]))
out = {}
for name in ("train_only", "meta_grad"):
    t0 = time.perf_counter(); low = getattr(step, name).lower(*step.args)
    t1 = time.perf_counter(); low.compile(); t2 = time.perf_counter()
    out[name] = {"lower_s": t1 - t0, "compile_s": t2 - t1, "stablehlo_lines": low.as_text().count("\n")}
print(json.dumps(out))
"""


def measure(experiment: str, variant: str, cache: str) -> dict:
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-c", _CHILD, os.path.join(ROOT, "configs", f"{experiment}.py"),
                        variant, cache], check=True, capture_output=True, text=True, env=env)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", default="")
    ap.add_argument("--experiments", default=",".join(EXPERIMENTS))
    ap.add_argument("--quick", action="store_true", help="only nyu (the experiments share one network)")
    a = ap.parse_args()
    names = ["nyu"] if a.quick else a.experiments.split(",")
    result = {"variant": a.variant, "goal_s": 30.0, "experiments": {}}
    for name in names:
        with tempfile.TemporaryDirectory() as cache:
            cold, warm = measure(name, a.variant, cache), measure(name, a.variant, cache)
        result["experiments"][name] = {"cold": cold, "warm": warm}
        for fn in cold:
            c, w = cold[fn], warm[fn]
            print(f"{name}{':' + a.variant if a.variant else ''} {fn}: cold {c['lower_s']:.1f} s lower + "
                  f"{c['compile_s']:.1f} s compile, warm {w['lower_s']:.1f} + {w['compile_s']:.1f} s "
                  f"({c['stablehlo_lines']} StableHLO lines)", flush=True)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "compile.json"), "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
