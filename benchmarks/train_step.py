"""FLOP/s of one Stacked Hourglass SGD step as a fraction of what this machine's convs achieve.

    python benchmarks/train_step.py [--quick] [--stacks 2 --channels 32 --size 64 --batch 8]

FLOPs from XLA's cost analysis of the compiled step; time is the median of several runs after
warm-up; the reference is the same run's throughput of the network's dominant conv shape alone
(a jitted 3×3 conv, forward, at the hourglass's working resolution). Both normalisations are
measured (GroupNorm, the default, and none). Writes benchmarks/results/train_step.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import flops, median_time  # noqa: E402
from hg_jax import unroll  # noqa: E402
from hg_jax.models.hourglass import make_model  # noqa: E402
from hg_jax.tasks.normals import NormalsTask  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def step_figures(norm, a, reps):
    init, apply = make_model(a.stacks, a.depth, a.channels, 1, 3, norm=norm)
    params = init(jax.random.PRNGKey(0), (1, a.size, a.size, 1))
    opt = optax.sgd(0.01)
    s0 = opt.init(params)
    loss = unroll.make_train_loss(apply, NormalsTask())

    @jax.jit
    def step(p, s, b):
        l, g = jax.value_and_grad(loss)(p, b)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, l

    rng = np.random.default_rng(0)
    b = {"image": jnp.asarray(rng.uniform(size=(a.batch, a.size, a.size, 1)), jnp.float32),
         "target": jnp.asarray(rng.normal(size=(a.batch, a.size, a.size, 3)), jnp.float32),
         "mask": jnp.ones((a.batch, a.size, a.size, 1), jnp.float32)}
    f = flops(step.lower(params, s0, b).compile())
    t = median_time(step, params, s0, b, reps=reps)
    return {"flops_per_step": f, "step_s": t, "gflops_per_s": f / t / 1e9}


def conv_throughput(a, reps):
    """The dominant conv: 3×3, channels/2 → channels/2, at half the input resolution."""
    c = max(a.channels // 2, 1)
    h = a.size // 2
    x = jnp.asarray(np.random.default_rng(0).normal(size=(a.batch, h, h, c)), jnp.float32)
    w = jnp.asarray(np.random.default_rng(1).normal(size=(3, 3, c, c)), jnp.float32)
    conv = jax.jit(lambda x, w: jax.lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                                             dimension_numbers=("NHWC", "HWIO", "NHWC")))
    f = flops(conv.lower(x, w).compile())
    # several calls per timing: a single small conv is shorter than the timer's resolution needs
    many = jax.jit(lambda x, w: jax.lax.fori_loop(0, 20, lambda i, y: conv(y, w) * 0.5, x))
    t = median_time(many, x, w, reps=reps) / 20
    return {"shape": [a.batch, h, h, c, c], "flops": f, "s": t, "gflops_per_s": f / t / 1e9}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--stacks", type=int, default=2)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    a = ap.parse_args()
    reps = 3 if a.quick else 7
    conv = conv_throughput(a, reps)
    res = {"config": vars(a), "conv": conv}
    for norm in ("group", "none"):
        r = step_figures(norm, a, reps)
        r["ratio"] = r["gflops_per_s"] / conv["gflops_per_s"]
        res[norm] = r
        print(f"norm={norm}: {r['step_s']*1e3:.1f} ms/step, {r['flops_per_step']/1e9:.2f} GFLOP, "
              f"{r['gflops_per_s']:.1f} GFLOP/s = {r['ratio']:.2f} x the dominant conv "
              f"({conv['gflops_per_s']:.1f} GFLOP/s)")
    res.update({"goal": 0.5, "ratio": res["group"]["ratio"], "met": res["group"]["ratio"] >= 0.5})
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "train_step.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
