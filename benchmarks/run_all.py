"""Run every benchmark and write benchmarks/results/summary.json and the table in benchmarks/README.md.

    python benchmarks/run_all.py [--quick] [--only render.py,outer_step.py]

``--only`` re-runs the named scripts and rebuilds the table from every saved result (for a change
whose path only those figures are on).

Each entry is {"figure", "goal", "measured", "met"}; every figure is a ratio measured within one
run of its script (this machine is noisy, absolute times are not comparable across runs).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
SCRIPTS = ["unroll.py", "host_bridge.py", "train_step.py", "render.py", "sampler.py", "ray_pool.py",
           "outer_step.py", "compile.py"]
BEGIN, END = "<!-- summary:begin -->", "<!-- summary:end -->"


def load(name):
    with open(os.path.join(RESULTS, name)) as f:
        return json.load(f)


def entries() -> list[dict]:
    out = []
    u = load("unroll.json")
    out.append({"figure": "meta-gradient time / K plain SGD steps (toy net)", "goal": "<= 2.5",
                "measured": round(u["ratio_meta_over_plain"], 2), "met": u["ratio_meta_over_plain"] <= 2.5})
    if os.path.exists(os.path.join(RESULTS, "unroll_hourglass.json")):
        h = load("unroll_hourglass.json")
        out.append({"figure": "meta-gradient time / K plain SGD steps (hourglass)", "goal": "<= 2.5",
                    "measured": round(h["ratio_meta_over_plain"], 2), "met": h["ratio_meta_over_plain"] <= 2.5})
        r = h["memory_per_step_over_state"]["remat"]
        out.append({"figure": "remat memory per extra unrolled step / (params + opt state) (hourglass)",
                    "goal": "<= 3", "measured": round(r, 2), "met": r <= 3})
    b = load("host_bridge.json")
    out.append({"figure": "overlapped (pool) outer step / sequential host calls", "goal": "< 1 (informative)",
                "measured": round(b["overlapped_over_sequential"], 2), "met": b["overlapped_over_sequential"] < 1})
    t = load("train_step.json")
    out.append({"figure": "hourglass SGD step FLOP/s / dominant conv FLOP/s (GroupNorm)", "goal": ">= 0.5",
                "measured": round(t["group"]["ratio"], 2), "met": t["group"]["ratio"] >= 0.5})
    out.append({"figure": "hourglass SGD step FLOP/s / dominant conv FLOP/s (no norm)", "goal": ">= 0.5",
                "measured": round(t["none"]["ratio"], 2), "met": t["none"]["ratio"] >= 0.5})
    r = load("render.json")
    out.append({"figure": "renders/s with 2 workers / with 1 worker", "goal": ">= 1.8",
                "measured": round(r["speedup_2_over_1"], 2), "met": r["speedup_2_over_1"] >= 1.8})
    out.append({"figure": "pool (1 worker) time / bare in-process loop - 1", "goal": "<= 0.10",
                "measured": round(r["pool_overhead"], 3), "met": r["pool_overhead"] <= 0.10})
    sm = load("sampler.json")
    for name, g in sm["grammars"].items():
        goal = name in sm["goal_grammars"]
        out.append({"figure": f"{name} sample cost / bare cube render at {sm['size']}² "
                              f"({g['samples_per_s_per_core']:.0f} samples/s/core)",
                    "goal": f"<= {sm['goal_ratio']:g}" if goal else "informative",
                    "measured": round(g["ratio_to_floor"], 1), "met": g.get("met", True)})
    if os.path.exists(os.path.join(RESULTS, "ray_pool.json")):
        rp = load("ray_pool.json")
        out.append({"figure": f"process-pool renders/s / Ray renders/s - 1 ({rp['workers']} workers)",
                    "goal": "<= 0.15", "measured": round(rp["ray_overhead"], 3), "met": rp["ray_overhead"] <= 0.15})
    o = load("outer_step.json")
    variant = o.get("variant", "small" if o["quick"] else "default")
    out.append({"figure": f"hybrid outer step wall / max(render, compute) ({variant} config)",
                "goal": "<= 1.15", "measured": round(o["ratio_wall_over_max"], 2), "met": o["ratio_wall_over_max"] <= 1.15})
    if "ratio_wall_over_sum" in o:
        out.append({"figure": f"hybrid outer step wall / (render + compute) ({variant} config)",
                    "goal": "< 1 (informative)", "measured": round(o["ratio_wall_over_sum"], 2),
                    "met": o["ratio_wall_over_sum"] < 1})
    if os.path.exists(os.path.join(RESULTS, "compile.json")):
        c = load("compile.json")
        for exp, r in c["experiments"].items():
            for when in ("cold", "warm"):
                for fn in ("meta_grad", "train_only"):
                    t = r[when][fn]["lower_s"] + r[when][fn]["compile_s"]
                    out.append({"figure": f"{fn} {when} compile s, lowering included ({exp}{':' + c['variant'] if c['variant'] else ''})",
                                "goal": "<= 30", "measured": round(t, 1), "met": t <= 30})
    return out


def write_table(rows):
    lines = ["| figure | goal | measured | met |", "|---|---|---|---|"]
    lines += [f"| {r['figure']} | {r['goal']} | {r['measured']} | {'yes' if r['met'] else 'no'} |" for r in rows]
    path = os.path.join(HERE, "README.md")
    text = open(path).read()
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + "\n".join(lines) + "\n" + END + tail)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="", help=f"comma-separated subset of {SCRIPTS} (+ 'unroll.py --model hourglass')")
    a = ap.parse_args()
    extra = ["--quick"] if a.quick else []
    runs = [[s] for s in SCRIPTS] + [["unroll.py", "--model", "hourglass"]]
    if a.only:
        allowed = [" ".join(r) for r in runs]
        wanted = [w.strip() for w in a.only.split(",")]
        unknown = [w for w in wanted if w not in allowed]
        if unknown:
            ap.error(f"--only: unknown {unknown}; allowed: {allowed}")
        runs = [r for r in runs if " ".join(r) in wanted]
    for script, *args in runs:
        print(f"== {' '.join([script, *args])}", flush=True)
        subprocess.run([sys.executable, os.path.join(HERE, script), *args, *extra], check=True)
    rows = entries()
    with open(os.path.join(RESULTS, "summary.json"), "w") as f:
        json.dump(rows, f, indent=1)
    write_table(rows)
    for r in rows:
        print(f"{'MET ' if r['met'] else 'MISS'} {r['figure']}: {r['measured']} (goal {r['goal']})")


if __name__ == "__main__":
    main()
