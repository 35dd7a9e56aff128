"""Does hybrid gradient find better data, and faster? Every method, same start, several seeds.

    python benchmarks/compare.py --config configs/csg_control.py --seeds 0,1,2
    python benchmarks/compare.py --config configs/nyu_control.py --seeds 0,1,2
    python benchmarks/compare.py --config configs/mbii.py --table1 --random-betas 10 --seeds 0,1,2

For each seed every method runs the same number of outer steps from the same network (the seed's),
the same β0 and the same per-step seeds; the script checks this and fails loudly otherwise, and
also if any row of a β-updating method skipped a β update or left β where it started.

Controlled experiments (a setup with β*): curves of beta_error and of the β*-domain test loss
against wall time, renders and outer steps (mean and min–max over seeds), and
P1 = (wall time hybrid takes to reach random search's final beta_error) / (random search's time
to reach it), per seed, with mean and range; the same for the test loss.

``--table1`` (real MBII, paper Table 1): the ``random_beta`` baseline with ``--random-betas`` = N
fixed random β (β0 + 0.5·N(0, I), draws 0..N−1 of the seed's key) and hybrid from β0, at an equal number of outer steps, for each seed; random β are
ranked best / median / worst by validation loss only; every row reports its best-validation
snapshot and its final network; the test set chooses nothing.

Writes benchmarks/results/compare_<experiment>.json (.png); ``--out`` changes the name.
Compilation is paid once in warm-up rows and then read from JAX's persistent cache, so no row's
wall time includes XLA compilation.
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
RESULTS = os.path.join(ROOT, "benchmarks", "results")
SMOOTH = 3          # a curve "reaches" a value when its running mean over this many points does


class ComparisonError(RuntimeError):
    """The runs did not do what the figure claims (skipped updates, frozen β, different starts)."""


def load_config(path: str):
    import importlib.util

    path, _, variant = path.partition(":")
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--config {path}: no such file")
    spec = importlib.util.spec_from_file_location("compare_cfg", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.get_config(variant)


def parse_overrides(pairs) -> dict:
    """["a.b=1", "c=sgd"] -> {"a.b": 1, "c": "sgd"}: JSON where the value parses as JSON, else a string."""
    out = {}
    for kv in pairs:
        k, _, v = kv.partition("=")
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def with_overrides(config, **overrides):
    c = config.copy_and_resolve_references()
    with c.unlocked():
        for k, v in overrides.items():
            node = c
            *parents, leaf = k.split(".")
            for p in parents:
                node = node[p]
            node[leaf] = v
    return c


def run_rows(config, setup, workdir, **overrides) -> dict:
    """One method's run without baselines: {row: its report row and its metrics lines}."""
    from hg_jax.experiment import run

    c = with_overrides(config, baselines=(), **overrides)
    report = run(c, workdir, setup=setup)
    lines = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
    return {name: {"row": row, "lines": [l for l in lines if l["row"] == name]}
            for name, row in report["rows"].items()}


def run_row(config, setup, workdir, **overrides) -> dict:
    """One method's row: its report row and its metrics lines."""
    return next(iter(run_rows(config, setup, workdir, **overrides).values()))


# ---- curves -------------------------------------------------------------------------------------
def _test_set(lines) -> str | None:
    for l in lines:
        if l.get("test"):
            return next(iter(l["test"]))
    return None


def curve(lines, key: str) -> dict:
    """{step, wall_s, renders, value} at the steps where ``key`` is known; ``key`` is a line field
    (beta_error, val_loss) or ``test_loss`` (the first test set's loss, at evaluation steps)."""
    pts = []
    ts = _test_set(lines)
    for l in lines:
        if key == "test_loss":
            v = l["test"][ts]["loss"] if l.get("test") else None
        else:
            v = l.get(key)
        if v is not None:
            pts.append((l["step"], l["wall_s"], l["renders"], float(v)))
    a = np.array(pts, np.float64).reshape(-1, 4)
    return {"step": a[:, 0].tolist(), "wall_s": a[:, 1].tolist(), "renders": a[:, 2].tolist(),
            "value": a[:, 3].tolist()}


def smoothed(values, k: int = SMOOTH) -> np.ndarray:
    v = np.asarray(values, np.float64)
    return np.array([v[max(0, i - k + 1):i + 1].mean() for i in range(len(v))])


def time_to_reach(c: dict, target: float, clock: str = "wall_s") -> float | None:
    hit = np.nonzero(smoothed(c["value"]) <= target + 1e-12)[0]
    return None if len(hit) == 0 else float(c[clock][int(hit[0])])


def p1(hybrid: dict, random_search: dict, clock: str = "wall_s") -> dict:
    """(hybrid's time to reach random search's final smoothed value) / (random search's), with time
    on ``clock``: wall seconds (P1 proper), or renders (the same ratio free of the machine's load)."""
    target = float(smoothed(random_search["value"])[-1])
    t_h, t_rs = time_to_reach(hybrid, target, clock), time_to_reach(random_search, target, clock)
    return {"target": target, "hybrid": t_h, "random_search": t_rs,
            "ratio": None if t_h is None or not t_rs else t_h / t_rs}


def summary(values) -> dict:
    v = np.array([x for x in values if x is not None], np.float64)
    if len(v) == 0:
        return {"n": 0}
    return {"n": int(len(v)), "mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()),
            "max": float(v.max())}


# ---- checks -------------------------------------------------------------------------------------
def check_rows(runs: dict) -> list[str]:
    """Every claim the figures rest on, checked; raises ComparisonError listing what failed."""
    from hg_jax.core.estimators.base import entry

    failures, notes = [], []
    for seed, per_method in runs.items():
        # random_* rows draw their own β by design; every row shares the seed's network
        beta0s = {tuple(np.round(r["row"]["beta_initial"], 12)) for m, r in per_method.items()
                  if not m.startswith("random")}
        if len(beta0s) > 1:
            failures.append(f"seed {seed}: methods started from different β0")
        if len({r["row"]["init_digest"] for r in per_method.values()}) > 1:
            failures.append(f"seed {seed}: methods started from different networks")
        for m, r in per_method.items():
            row, lines = r["row"], r["lines"]
            if row["skipped_updates"]:
                failures.append(f"seed {seed} {m}: {row['skipped_updates']} skipped β updates")
            if any(not np.isfinite(l["val_loss"]) for l in lines):
                failures.append(f"seed {seed} {m}: non-finite validation loss")
            if entry(row["method"]).make.updates_beta:
                moved = np.linalg.norm(np.subtract(row["beta"], row["beta_initial"]))
                if not moved > 0 or any(l.get("beta_update_applied") is False for l in lines):
                    failures.append(f"seed {seed} {m}: β did not move on every step (moved {moved:.3g})")
            notes.append(f"seed {seed} {m}: {len(lines)} steps, skipped_updates {row['skipped_updates']}")
    if failures:
        raise ComparisonError("the comparison is not evidence:\n  " + "\n  ".join(failures))
    return notes


# ---- the two protocols --------------------------------------------------------------------------
def default_methods(setup) -> list[str]:
    methods = ["hybrid", "random_search", "reinforce"]
    if setup.genomes is not None:         # Shape Evolution needs a genome space (CSG experiments)
        methods.append("evolution")
    return methods + ["fixed", "random_beta"]


def warm_up(config, setup, workdir, methods) -> None:
    """One step of each method, so that XLA compiles once, into the persistent cache."""
    for m in methods:
        run_row(config, setup, os.path.join(workdir, "warmup", m), method=m, outer_steps=1, eval_every=1,
                **{"beta_opt.warmup_steps": 0})


def controlled(config, setup, args, methods, seeds) -> dict:
    runs = {}
    for seed in seeds:
        runs[seed] = {}
        for m in methods:
            t = time.perf_counter()
            runs[seed][m] = run_row(config, setup, os.path.join(args.workdir, f"seed_{seed}", m), method=m,
                                    seed=seed)
            r = runs[seed][m]["row"]
            print(f"seed {seed} {m:>13}: beta_error {r['beta_error']['start']:.3f} -> {r['beta_error']['end']:.3f}"
                  f"  test loss {next(iter(r['test'].values()))['loss']:.4f}  ({time.perf_counter() - t:.0f} s)",
                  flush=True)
    notes = check_rows(runs)
    result = {"protocol": "controlled", "checks": notes, "rows": {}, "curves": {}, "p1": {}}
    for m in methods:
        result["rows"][m] = {str(s): _row_summary(runs[s][m]["row"]) for s in seeds}
        result["curves"][m] = {str(s): {k: curve(runs[s][m]["lines"], k)
                                        for k in ("beta_error", "test_loss", "val_loss")} for s in seeds}
    if "hybrid" in methods and "random_search" in methods:
        for key in ("beta_error", "test_loss"):
            for clock, name in (("wall_s", key), ("renders", f"{key} (renders)")):
                per_seed = {str(s): p1(result["curves"]["hybrid"][str(s)][key],
                                       result["curves"]["random_search"][str(s)][key], clock) for s in seeds}
                result["p1"][name] = {"per_seed": per_seed, "clock": clock,
                                      "ratio": summary([v["ratio"] for v in per_seed.values()]),
                                      "reached": sum(v["ratio"] is not None for v in per_seed.values())}
    result["claims"] = claims(runs, seeds, methods)
    result["final"] = {m: {"beta_error_end": summary([runs[s][m]["row"]["beta_error"]["end"] for s in seeds]),
                           "beta_error_start": summary([runs[s][m]["row"]["beta_error"]["start"] for s in seeds]),
                           "test": _test_summary([runs[s][m]["row"]["test"] for s in seeds]),
                           "best_test": _test_summary([runs[s][m]["row"]["best"]["test"] for s in seeds]),
                           "wall_s": summary([runs[s][m]["row"]["timings"]["wall_s"] for s in seeds]),
                           "renders": summary([runs[s][m]["row"]["timings"]["renders"] for s in seeds])}
                       for m in methods}
    return result


def claims(runs: dict, seeds, methods) -> dict:
    """The issue's bar, per seed: hybrid at least halves beta_error, and its β*-domain test loss
    ends below fixed β0's. Reported (met or not), never used to choose anything."""
    out = {}
    for s in seeds:
        h = runs[s]["hybrid"]["row"] if "hybrid" in methods else None
        if h is None:
            continue
        e = h["beta_error"]
        c = {"beta_error_ratio": e["end"] / e["start"], "halved": e["end"] <= 0.5 * e["start"]}
        if "fixed" in methods:
            ts = next(iter(h["test"]))
            c["test_loss_hybrid"], c["test_loss_fixed"] = h["test"][ts]["loss"], runs[s]["fixed"]["row"]["test"][ts]["loss"]
            c["below_fixed"] = c["test_loss_hybrid"] < c["test_loss_fixed"]
        out[str(s)] = c
    return out


def table1(config, setup, args, seeds) -> dict:
    runs, per_seed, random_betas = {}, {}, {}
    for seed in seeds:
        rows = {"hybrid": run_row(config, setup, os.path.join(args.workdir, f"seed_{seed}", "hybrid"),
                                  method="hybrid", seed=seed)}
        rows.update(run_rows(config, setup, os.path.join(args.workdir, f"seed_{seed}", "random_beta"),
                             method="random_beta", seed=seed, **{"random_beta.count": args.random_betas}))
        runs[seed] = rows
        random_betas[str(seed)] = {k: r["row"]["beta"] for k, r in rows.items() if k.startswith("random_")}
        order = sorted((k for k in rows if k.startswith("random_")), key=lambda k: rows[k]["row"]["val_loss"])
        picks = {"best": order[0], "median": order[len(order) // 2], "worst": order[-1]}
        per_seed[str(seed)] = {
            **{label: {"row": k, **_snapshots(rows[k]["row"])} for label, k in picks.items()},
            "hybrid": {"row": "hybrid", **_snapshots(rows["hybrid"]["row"])}}
        print(f"seed {seed}: " + ", ".join(f"{label} {v['row']} val {v['final']['val_loss']:.4f}"
                                           for label, v in per_seed[str(seed)].items()), flush=True)
    notes = check_rows(runs)
    labels = ("best", "median", "worst", "hybrid")
    agg = {}
    for label in labels:
        agg[label] = {snap: _test_summary([per_seed[str(s)][label][snap]["test"] for s in seeds])
                      for snap in ("final", "best_val")}
    return {"protocol": "table1", "checks": notes, "random_betas": args.random_betas, "per_seed": per_seed,
            "summary": agg, "random_beta_vectors": random_betas,
            "curves": {"hybrid": {str(s): {"val_loss": curve(runs[s]["hybrid"]["lines"], "val_loss")} for s in seeds}}}


def _snapshots(row: dict) -> dict:
    return {"final": {"val_loss": row["val_loss"], "test": row["test"]},
            "best_val": {"step": row["best"]["step"], "val_loss": row["best"]["val_loss"], "test": row["best"]["test"]}}


def _row_summary(row: dict) -> dict:
    return {k: row.get(k) for k in ("beta_initial", "beta", "beta_named", "beta_error", "val_loss", "test", "best",
                                    "timings", "skipped_updates", "init_digest")}


def _test_summary(tests: list[dict]) -> dict:
    from hg_jax.retrain import summarise

    return summarise(tests)


# ---- output -------------------------------------------------------------------------------------
def print_result(result: dict) -> None:
    if result["protocol"] == "controlled":
        print("\nmethod          beta_error start -> end (mean ± std)   test loss (mean ± std)   wall s   renders")
        for m, f in result["final"].items():
            ts = next(iter(f["test"]))
            tl = f["test"][ts]["loss"]
            print(f"{m:>13}  {f['beta_error_start']['mean']:.3f} -> {f['beta_error_end']['mean']:.3f} ± "
                  f"{f['beta_error_end']['std']:.3f}        {tl['mean']:.4f} ± {tl['std']:.4f}      "
                  f"{f['wall_s']['mean']:6.0f}  {f['renders']['mean']:8.0f}")
        for s, c in result.get("claims", {}).items():
            print(f"seed {s}: hybrid beta_error end/start {c['beta_error_ratio']:.2f} (halved: {c['halved']})"
                  + (f", test loss {c['test_loss_hybrid']:.4f} vs fixed β0 {c['test_loss_fixed']:.4f}"
                     f" (below: {c['below_fixed']})" if "below_fixed" in c else ""))
        for key, p in result["p1"].items():
            r = p["ratio"]
            shown = f"mean {r['mean']:.2f}, range {r['min']:.2f}–{r['max']:.2f}" if r["n"] else "never reached"
            print(f"P1 ({key}): {shown} ({p['reached']} of {len(p['per_seed'])} seeds reached the target)")
    else:
        print("\nTable 1 protocol (test set; mean ± std over seeds; random β ranked by validation loss)")
        for label, snaps in result["summary"].items():
            for snap, per_set in snaps.items():
                ts = next(iter(per_set))
                m = per_set[ts]
                print(f"{label:>7} {snap:>8}: mean angle {m['mean_angle']['mean']:.2f} ± {m['mean_angle']['std']:.2f}"
                      f"  median {m['median_angle']['mean']:.2f}  mse {m['mse']['mean']:.3f}"
                      f"  ≤22.5° {m['within_22.5']['mean']:.1f}")


def plot(result: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if result["protocol"] != "controlled":
        fig, ax = plt.subplots(figsize=(5, 4))
        for s, c in result["curves"]["hybrid"].items():
            ax.plot(c["val_loss"]["step"], c["val_loss"]["value"], label=f"hybrid seed {s}")
        ax.set(xlabel="outer step", ylabel="validation loss (real MBII train objects)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return
    keys, clocks = ("beta_error", "test_loss"), ("wall_s", "renders", "step")
    fig, axes = plt.subplots(len(keys), len(clocks), figsize=(13, 7), squeeze=False)
    for m, per_seed in result["curves"].items():
        for i, key in enumerate(keys):
            curves = [c[key] for c in per_seed.values() if len(c[key]["value"])]
            if not curves or (key == "beta_error" and m == "evolution"):
                continue
            for j, clock in enumerate(clocks):
                top = min(c[clock][-1] for c in curves)
                grid = np.linspace(min(c[clock][0] for c in curves), top, 50)
                ys = np.array([np.interp(grid, c[clock], c["value"]) for c in curves])
                ax = axes[i, j]
                line, = ax.plot(grid, ys.mean(0), label=m)
                ax.fill_between(grid, ys.min(0), ys.max(0), color=line.get_color(), alpha=0.15)
                ax.set(xlabel={"wall_s": "wall seconds", "renders": "renders", "step": "outer step"}[clock],
                       ylabel=key.replace("_", " "))
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"{result['experiment']}: mean and min–max over seeds {result['seeds']}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks/compare.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "csg_control.py"))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--methods", default="", help="comma-separated (default: every method that applies)")
    ap.add_argument("--outer-steps", type=int, default=0, help="override config.outer_steps (0: keep)")
    ap.add_argument("--table1", action="store_true", help="real-data protocol: random fixed β + hybrid")
    ap.add_argument("--random-betas", type=int, default=10)
    ap.add_argument("--workdir", default=os.path.join(ROOT, "runs", "compare"))
    ap.add_argument("--out", default="", help="result name (default: compare_<experiment>)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override, e.g. --set beta_opt.learning_rate=0.05 (repeatable)")
    args = ap.parse_args(argv)
    args.workdir = os.path.abspath(os.path.expanduser(args.workdir))
    seeds = [int(s) for s in args.seeds.split(",") if s != ""]
    if len(seeds) < 3:
        print(f"warning: {len(seeds)} seed(s): a comparison needs at least 3 to be evidence", file=sys.stderr)

    from hg_jax import experiments
    from hg_jax.core.estimators.base import available
    from hg_jax.runtime import enable_compile_cache, tune_malloc

    tune_malloc()
    enable_compile_cache()   # the default cache launch.py uses: a compile is paid once per program
    config = load_config(args.config)
    overrides = parse_overrides(args.set)
    if args.outer_steps:
        overrides["outer_steps"] = args.outer_steps
    config = with_overrides(config, **overrides)
    experiments.validate(config)
    setup = experiments.build(config)
    methods = [m for m in args.methods.split(",") if m] or default_methods(setup)
    unknown = sorted(set(methods) - set(available()))
    if unknown:
        ap.error(f"--methods: {unknown} not in {available()}")
    if args.table1:
        warm_up(config, setup, args.workdir, ["hybrid", "fixed"])
        result = table1(config, setup, args, seeds)
    else:
        if setup.beta_star is None:
            ap.error(f"{args.config} has no β*: use a controlled config, or --table1 for real data")
        warm_up(config, setup, args.workdir, methods)
        result = controlled(config, setup, args, methods, seeds)
    result.update({"experiment": config.experiment, "config": args.config, "seeds": seeds,
                   "outer_steps": int(config.outer_steps), "overrides": overrides,
                   "command": "python " + " ".join([os.path.relpath(__file__, ROOT)] + (argv or sys.argv[1:])),
                   "notes": list(setup.notes)})
    os.makedirs(RESULTS, exist_ok=True)
    name = args.out or f"compare_{config.experiment}" + ("_table1" if args.table1 else "")
    with open(os.path.join(RESULTS, f"{name}.json"), "w") as f:
        json.dump(result, f, indent=1)
    plot(result, os.path.join(RESULTS, f"{name}.png"))
    print_result(result)
    print(f"saved {os.path.join(RESULTS, name + '.json')} and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
