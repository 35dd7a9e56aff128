"""How much of β's gradient is signal? Per β coordinate, over several outer steps' seeds, the mean and
spread of hybrid's ⟨∂L/∂X, X(β+εe_c) − X(β−εe_c)⟩ / 2ε and of random search's measured
(L⁺ − L⁻) / 2ε, at one network (trained ``--warmup`` outer steps on f(β0), as a row's warm-up does).

    python benchmarks/beta_snr.py [--config configs/csg_control.py] [--warmup 6] [--sets 4] [--eps 0.1]

A coordinate's derivative is resolved when |mean| is large against its spread over sets: the
script reports t = mean / (sd / √sets) per coordinate and, for a controlled config, the derivative
along β* − β0 with its t. If neither estimator resolves the coordinates β* changes, no estimator of
that family can find β* at this batch size in a few dozen outer steps. Writes
benchmarks/results/<--out>.json; not part of run_all.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def coordinate_names(schema) -> list[str]:
    names = []
    for name, sl in schema.slices().items():
        k = sl.stop - sl.start
        names += [name] if k == 1 else [f"{name}[{i}]" for i in range(k)]
    return names


def t_stat(x: np.ndarray) -> np.ndarray:
    """mean / standard error over axis 0 (rows = independent sets); ±inf where the sets agree exactly
    on a nonzero value, 0 where they agree on zero."""
    mean, se = x.mean(0), x.std(0, ddof=1) / np.sqrt(len(x))
    exact = np.where(mean == 0, 0.0, np.copysign(np.inf, mean))
    return np.where(se > 0, mean / np.where(se > 0, se, 1.0), exact)


def measure(config, warmup: int, sets: int, eps: float) -> dict:
    from benchmarks.meta_signal import scalars, session

    with session(config) as (setup, pools, trainer, state, warm):
        for _ in range(warmup):
            state = warm(state)
        d = setup.beta0.size
        hyb, brs = [], []
        for s in range(sets):
            h, b = scalars(trainer, pools, state, eps * np.eye(d), 20_000 + s)   # seeds no training step uses
            hyb.append(h / (2 * eps))
            brs.append(b / (2 * eps))
            print(f"set {s + 1}/{sets} done", flush=True)
        names = coordinate_names(setup.sampler.schema)
        star = None if setup.beta_star is None else setup.beta_star - setup.beta0
    hyb, brs = np.array(hyb), np.array(brs)
    out = {"names": names, "hybrid": hyb.tolist(), "random_search": brs.tolist(),
           "t": {"hybrid": t_stat(hyb).tolist(), "random_search": t_stat(brs).tolist()},
           "per_set_corr": [float(np.corrcoef(h, b)[0, 1]) for h, b in zip(hyb, brs)]}
    if star is not None:
        u = star / np.linalg.norm(star)
        towards = {"hybrid": -(hyb @ u), "random_search": -(brs @ u)}   # > 0: L falls towards β*
        out["towards_beta_star"] = {k: {"per_set": v.tolist(), "t": float(t_stat(v[:, None])[0])}
                                    for k, v in towards.items()}
        out["beta_star_minus_beta0"] = star.tolist()
    return out


def report(res: dict) -> None:
    star = res.get("beta_star_minus_beta0")
    print(f"{'coordinate':22s} {'hybrid mean':>12s} {'t':>6s} {'measured mean':>14s} {'t':>6s} {'β*−β0':>7s}")
    h, b = np.array(res["hybrid"]), np.array(res["random_search"])
    for c, name in enumerate(res["names"]):
        print(f"{name:22s} {h[:, c].mean():12.2e} {res['t']['hybrid'][c]:6.2f} {b[:, c].mean():14.2e} "
              f"{res['t']['random_search'][c]:6.2f} {'' if star is None else f'{star[c]:7.2f}'}")
    for k in ("hybrid", "random_search"):
        t = np.abs(np.array(res["t"][k]))
        print(f"{k}: {int((t > 2).sum())} of {len(t)} coordinates with |t| > 2")
    print("per-set correlation of the two over coordinates:", " ".join(f"{c:+.2f}" for c in res["per_set_corr"]))
    if "towards_beta_star" in res:
        for k, v in res["towards_beta_star"].items():
            print(f"{k}: −∂L/∂u along u = β*−β0: " + " ".join(f"{x:+.2e}" for x in v["per_set"]) + f"  (t {v['t']:+.2f})")


def main():
    from benchmarks.meta_signal import add_probe_args, run_probe

    ap = argparse.ArgumentParser()
    add_probe_args(ap, "csg_control.py", "beta_snr")
    ap.add_argument("--warmup", type=int, default=6)
    ap.add_argument("--sets", type=int, default=4, help="independent outer-step seed sets (>= 2)")
    ap.add_argument("--eps", type=float, default=0.1, help="ε along each coordinate")
    a = ap.parse_args()
    if a.sets < 2:
        ap.error("--sets must be >= 2 (a spread needs two sets)")
    report(run_probe(a, "beta_snr.py", lambda config: measure(config, a.warmup, a.sets, a.eps),
                     warmup=a.warmup, eps=a.eps))


if __name__ == "__main__":
    main()
