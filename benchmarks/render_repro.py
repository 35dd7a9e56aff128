"""Are an experiment's renders bit-reproducible? The same (β, seed) samples rendered in this process
(the reference), then again in this process, and several times by the render pool with ``--load``
CPU-bound processes beside it (a real run keeps both cores busy with XLA), compared map by map.

    python benchmarks/render_repro.py --config configs/nyu.py --samples 96 --repeats 3 --load 2

Prints, per pass (in-process or pool), the samples that differ from the reference and for each map the largest
difference and the number of differing pixels; writes benchmarks/results/<--out>.json. Exit code 0
either way: this measures, the README's "Resume" section says what the answer means.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def _spin():
    while True:
        pass


def compare(ref: dict, got: dict) -> dict:
    """{map: [max |difference|, differing pixels]} for the maps that differ."""
    out = {}
    for k in ref:
        d = np.abs(np.asarray(ref[k], np.float64) - np.asarray(got[k], np.float64))
        if d.max() > 0:
            out[k] = [float(d.max()), int((d > 0).sum())]
    return out


def main() -> None:
    from benchmarks.compare import load_config
    from hg_jax import experiments
    from hg_jax.core import bridge

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/nyu.py")
    ap.add_argument("--samples", type=int, default=96)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--load", type=int, default=2, help="CPU-bound processes running beside the pool")
    ap.add_argument("--beta_scale", type=float, default=0.05, help="β = β0 + this × N(0, I), seed 0")
    ap.add_argument("--out", default="render_repro")
    a = ap.parse_args()
    config = load_config(a.config)
    setup = experiments.build(config)
    beta = setup.beta0 + a.beta_scale * np.random.default_rng(0).standard_normal(setup.beta0.shape)
    jobs = [(beta, s) for s in range(a.samples)]
    ref = [setup.sampler(b, s) for b, s in jobs]
    result = {"config": a.config, "samples": a.samples, "load": a.load, "in_process_passes": [], "pool_passes": []}

    def record(kind: str, rep: int, got: list, against: str) -> None:
        diffs = {i: d for i in range(a.samples) if (d := compare(ref[i], got[i]))}
        result[kind].append({str(i): d for i, d in diffs.items()})
        print(f"{kind.replace('_', ' ')[:-2]} {rep}: {len(diffs)} of {a.samples} samples differ from {against}"
              + "".join(f"\n  seed {i}: {d}" for i, d in diffs.items()), flush=True)

    for rep in range(a.repeats):
        record("in_process_passes", rep, [setup.sampler(*j) for j in jobs], "the first render")
    spinners = [mp.Process(target=_spin, daemon=True) for _ in range(a.load)]
    for p in spinners:
        p.start()
    try:
        with bridge.make_pool(setup.sampler, int(config.render.num_workers)) as pool:
            for rep in range(a.repeats):
                record("pool_passes", rep, pool.submit(jobs).result(), "the in-process render")
    finally:
        for p in spinners:
            p.terminate()
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", f"{a.out}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
