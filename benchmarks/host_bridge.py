"""How should jitted code reach the host renderer? ``jax.pure_callback`` inside jit, or Python between
jitted pieces? Measured on one outer step's shape: render the K×B training samples and 2m×K×B
perturbed samples on the host, and run the meta-gradient.

    python benchmarks/host_bridge.py [--quick]

Three variants, same work:
  callback    one jitted function; renders happen in a pure_callback inside it
  sequential  Python: render everything, then the jitted meta-gradient
  overlapped  Python: submit the ± renders to a worker process, run the meta-gradient meanwhile
The host "renderer" is a numpy blob rasteriser that burns RENDER_MS of CPU per sample, so that
render and compute times are of the same order as in a real step. Writes
benchmarks/results/host_bridge.json.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing as mp
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from hg_jax.core import unroll  # noqa: E402
from hg_jax.models.convnet import make_convnet  # noqa: E402
from hg_jax.tasks.regression import RegressionTask  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
S = 32


RENDER_MS = 0.5   # CPU time a "render" burns, like a small pyrender/CSG sample does


def host_render(beta: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """(n,) seeds -> (n, S, S, 3) image/target/mask stack, pure numpy, RENDER_MS of CPU each."""
    t_end = time.perf_counter() + RENDER_MS * 1e-3 * len(seeds)
    while time.perf_counter() < t_end:
        pass
    out = np.empty((len(seeds), S, S, 3), np.float32)
    ax = (np.arange(S) + 0.5) / S * 2 - 1
    yy, xx = np.meshgrid(ax, ax, indexing="ij")
    for i, s in enumerate(seeds):
        z = np.random.default_rng(int(s)).standard_normal((3, 4))
        c, size, b = 0.6 * np.tanh(z[:, :2]), np.exp(beta[0] + 0.2 * z[:, 2]), np.exp(beta[1] + 0.2 * z[:, 3])
        g = np.exp(-0.5 * ((xx[None] - c[:, 0, None, None]) ** 2 + (yy[None] - c[:, 1, None, None]) ** 2)
                   / size[:, None, None] ** 2)
        out[i, ..., 0] = np.einsum("n,nhw->hw", b, g)
        out[i, ..., 1] = np.einsum("n,nhw->hw", size, g)
        out[i, ..., 2] = 1.0
    return out


def split(a, k, b):
    a = a.reshape((k, b, S, S, 3))
    return {"image": a[..., :1], "target": a[..., 1:2], "mask": a[..., 2:]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    K, B, m = 4, 8, (4 if args.quick else 8)
    init, apply = make_convnet((16, 16), 1, 1)
    task = RegressionTask()
    params = init(jax.random.PRNGKey(0), (1, S, S, 1))
    opt = optax.sgd(0.05)
    s0 = opt.init(params)
    tl, vl = unroll.make_train_loss(apply, task), unroll.make_val_loss(apply, task)
    beta = np.array([np.log(0.2), 0.0])
    seeds = np.arange(K * B)
    val = {k: jnp.asarray(v[0]) for k, v in split(host_render(beta, np.arange(900, 900 + B)), 1, B).items()}
    meta = unroll.make_meta_grad(train_loss=tl, val_loss=vl, optimizer=opt)
    deltas = 0.05 * np.random.default_rng(0).standard_normal((m, 2))

    def pm_renders():
        return [(host_render(beta + d, seeds), host_render(beta - d, seeds)) for d in deltas]

    def sequential():
        X = split(host_render(beta, seeds), K, B)
        pm = pm_renders()
        out = jax.block_until_ready(meta(params, s0, X, val))
        return out, pm

    shape = jax.ShapeDtypeStruct((K * B, S, S, 3), jnp.float32)

    @jax.jit
    def in_jit(params, s0, val):
        X = split(jax.pure_callback(lambda: host_render(beta, seeds), shape), K, B)
        L, dX, p, s, losses = meta(params, s0, X, val)
        pm = [(jax.pure_callback(lambda d=d: host_render(beta + d, seeds), shape),
               jax.pure_callback(lambda d=d: host_render(beta - d, seeds), shape)) for d in deltas]
        return L, dX, pm

    def callback():
        return jax.block_until_ready(in_jit(params, s0, val))

    pool = cf.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"))

    def overlapped():
        X = split(host_render(beta, seeds), K, B)
        futs = [pool.submit(host_render, beta + sgn * d, seeds) for d in deltas for sgn in (1, -1)]
        out = jax.block_until_ready(meta(params, s0, X, val))
        return out, [f.result() for f in futs]

    times = {}
    for name, f in (("sequential", sequential), ("callback", callback), ("overlapped", overlapped)):
        f()
        ts = []
        for _ in range(2 if args.quick else 5):
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
        times[name] = float(np.median(ts))
    pool.shutdown()
    t = time.perf_counter()
    for _ in range(3):
        pm_renders()
    render_only = (time.perf_counter() - t) / 3
    t = time.perf_counter()
    for _ in range(3):
        jax.block_until_ready(meta(params, s0, split(host_render(beta, seeds), K, B), val))
    compute_only = (time.perf_counter() - t) / 3
    res = {"K": K, "B": B, "m": m, "size": S, "seconds": times, "render_pm_s": render_only,
           "meta_gradient_s": compute_only,
           "callback_over_sequential": times["callback"] / times["sequential"],
           "overlapped_over_sequential": times["overlapped"] / times["sequential"]}
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "host_bridge.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(" ".join(f"{k} {v*1e3:.0f} ms" for k, v in times.items()),
          f"| callback/sequential {res['callback_over_sequential']:.2f}",
          f"overlapped/sequential {res['overlapped_over_sequential']:.2f}",
          f"(± renders alone {render_only*1e3:.0f} ms, meta-gradient alone {compute_only*1e3:.0f} ms)")


if __name__ == "__main__":
    main()
