"""Cost of the analytic half: one meta-gradient (K steps forward + reverse to X) vs K plain SGD steps,
and XLA's peak memory of the meta-gradient for several K, with and without remat.

    python benchmarks/unroll.py [--model toy|hourglass] [--quick]

Time ratios are measured within one run (this machine is noisy); memory is XLA's compiled
buffer assignment (temp + arguments + outputs), which is exact and repeatable.
Writes benchmarks/results/unroll[_<model>].json.
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
from benchmarks.common import median_time  # noqa: E402
from hg_jax.core import unroll  # noqa: E402
from hg_jax.tasks.regression import RegressionTask  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def build(model: str):
    if model == "toy":
        from hg_jax.models.convnet import make_convnet
        init, apply = make_convnet((8, 8), 1, 1)
        return init, apply, (16, 16, 1), 8, RegressionTask(out_channels=1)
    from hg_jax.models.hourglass import make_model
    from hg_jax.tasks.normals import NormalsTask
    init, apply = make_model(num_stacks=2, depth=3, channels=32, in_channels=1, out_channels=3)
    return init, apply, (64, 64, 1), 8, NormalsTask()


def batches(k, b, hwc, out_c, rng):
    x = rng.uniform(size=(k, b) + hwc).astype(np.float32)
    t = rng.normal(size=(k, b) + hwc[:2] + (out_c,)).astype(np.float32)
    return {"image": jnp.asarray(x), "target": jnp.asarray(t), "mask": jnp.ones((k, b) + hwc[:2] + (1,))}


def memory_bytes(compiled) -> int:
    m = compiled.memory_analysis()
    return int(m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="toy", choices=["toy", "hourglass"])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    init, apply, hwc, b, task = build(args.model)
    params = init(jax.random.PRNGKey(0), (1,) + hwc)
    opt = optax.sgd(0.01)
    s0 = opt.init(params)
    tl, vl = unroll.make_train_loss(apply, task), unroll.make_val_loss(apply, task)
    rng = np.random.default_rng(0)
    val = jax.tree_util.tree_map(lambda a: a[0], batches(1, 4, hwc, task.out_channels, rng))
    state_bytes = sum(x.nbytes for x in jax.tree_util.tree_leaves((params, s0)))

    k_time = 4 if args.quick else 8
    X = batches(k_time, b, hwc, task.out_channels, rng)
    plain = jax.jit(lambda p, s, X: unroll.train(p, s, X, loss_fn=tl, optimizer=opt))
    meta = unroll.make_meta_grad(train_loss=tl, val_loss=vl, optimizer=opt)
    meta_remat = unroll.make_meta_grad(train_loss=tl, val_loss=vl, optimizer=opt, remat=True)
    reps = 2 if args.quick else 5
    t_plain = median_time(plain, params, s0, X, reps=reps)
    t_meta = median_time(meta, params, s0, X, val, reps=reps)
    t_meta_remat = median_time(meta_remat, params, s0, X, val, reps=reps)

    ks = (4, 16) if args.quick else (4, 16, 64)
    memory = {}
    for remat in (False, True):
        f = unroll.make_meta_grad(train_loss=tl, val_loss=vl, optimizer=opt, remat=remat)
        memory["remat" if remat else "no_remat"] = {
            k: memory_bytes(f.lower(params, s0, batches(k, b, hwc, task.out_channels, rng), val).compile())
            for k in ks}
    per_step = {name: (m[ks[-1]] - m[ks[0]]) / (ks[-1] - ks[0]) for name, m in memory.items()}
    input_bytes_per_step = sum(a.nbytes for a in jax.tree_util.tree_leaves(X)) / k_time
    result = {
        "model": args.model, "batch_size": b, "input": list(hwc), "K_timed": k_time,
        "plain_K_steps_s": t_plain, "meta_gradient_s": t_meta, "meta_gradient_remat_s": t_meta_remat,
        "ratio_meta_over_plain": t_meta / t_plain, "ratio_meta_remat_over_plain": t_meta_remat / t_plain,
        "peak_memory_bytes": memory, "memory_per_extra_step_bytes": per_step,
        "params_plus_opt_state_bytes": state_bytes, "training_data_bytes_per_step": input_bytes_per_step,
        "memory_per_step_over_state": {k: v / state_bytes for k, v in per_step.items()},
        "device": str(jax.devices()[0]), "quick": args.quick,
    }
    os.makedirs(RESULTS, exist_ok=True)
    name = "unroll.json" if args.model == "toy" else f"unroll_{args.model}.json"
    with open(os.path.join(RESULTS, name), "w") as f:
        json.dump(result, f, indent=1)
    print(f"model={args.model} K={k_time}: meta-gradient {t_meta*1e3:.1f} ms, {k_time} plain steps "
          f"{t_plain*1e3:.1f} ms -> ratio {t_meta/t_plain:.2f} (remat {t_meta_remat/t_plain:.2f})")
    for name_, m in memory.items():
        print(f"  peak memory {name_}: " + ", ".join(f"K={k}: {v/2**20:.2f} MiB" for k, v in m.items())
              + f"; per extra step {per_step[name_]/2**10:.1f} KiB "
              f"({per_step[name_]/state_bytes:.2f} x params+opt state)")
    print(f"saved {os.path.join(RESULTS, name)}")


if __name__ == "__main__":
    main()
