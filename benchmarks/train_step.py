"""FLOP/s of one Stacked Hourglass SGD step as a fraction of what this machine's convs achieve.

    python benchmarks/train_step.py [--quick] [--stacks 2 --depth 3 --channels 32 --size 64 --batch 8]
        [--norm both|group|none] [--conv both|im2col|xla] [--block bottleneck|basic] [--scan-k 4]
        [--cpus N] [--no-malloc-tuning] [--model-file PATH] [--out PATH]

The step is jit(value_and_grad of the mean squared error summed over every stack's output, then
optax.sgd). FLOPs come from XLA's cost analysis of the compiled step; its time is the median of
several calls after warm-up. The reference is measured in the same run, interleaved with the
steps: a jitted lax.conv_general_dilated of the network's dominant conv shape (the 3×3 conv of
the residual blocks at the hourglass's working resolution, batch included), forward, chained in
a fori_loop so that dispatch does not count. ratio = step GFLOP/s / conv GFLOP/s; goal 0.5.

Also reported: the step's time inside a lax.scan of K steps (how the engine runs it) and the
fastest call. Both conv implementations of the model are timed (``conv="im2col"``, the default,
and ``"xla"``): XLA:CPU leaves convolutions inside loop bodies unoptimised, so "xla" wins the
single step and loses the scan by ~4×. The top-level figures are the model's defaults (GroupNorm,
im2col); "group"/"none" hold both norms with the default conv, "xla_conv" the same with "xla".
XLA counts ~9% more FLOPs for im2col (columns of padding); "ratio_textbook_flops" rates its time
by the lax.conv version's count instead.

Process settings, made before JAX starts (both are for the shared 2-core machine):
- malloc tuning (on unless --no-malloc-tuning): glibc returns any freed block above 32 MB to the
  OS and the step's XLA temporaries (40-70 MB here) come back as fresh pages every call; 10-17k
  page faults cost ~10 ms of a ~40 ms step. mallopt(M_MMAP_MAX=0, M_TRIM_THRESHOLD=1 GiB,
  M_ARENA_MAX=1) keeps them in one heap.
- --cpus N pins the process to N cores, which also sizes XLA's thread pool. With other jobs on
  the machine one thread was faster than two (each parallel op waits for a descheduled thread).

``--model-file`` times another implementation exposing the same ``make_model`` (e.g. an older
copy of hg_jax/models/hourglass.py) for before/after comparisons.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer timed calls, K=2 for the scan")
    ap.add_argument("--stacks", type=int, default=2)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--norm", default="both", choices=["both", "group", "none"])
    ap.add_argument("--conv", default="both", choices=["both", "im2col", "xla"])
    ap.add_argument("--block", default="bottleneck", choices=["bottleneck", "basic"])
    ap.add_argument("--scan-k", type=int, default=None, help="steps per lax.scan (default 4, 2 with --quick)")
    ap.add_argument("--reps", type=int, default=None, help="timed calls of each (default 15, 5 with --quick)")
    ap.add_argument("--cpus", type=int, default=None, help="pin the process to this many cores")
    ap.add_argument("--no-malloc-tuning", action="store_true")
    ap.add_argument("--model-file", default=os.path.join(REPO, "hg_jax", "models", "hourglass.py"))
    ap.add_argument("--out", default=os.path.join(RESULTS, "train_step.json"))
    a = ap.parse_args(argv)
    for name in ("stacks", "depth", "channels", "size", "batch"):
        if getattr(a, name) < 1:
            ap.error(f"--{name} must be >= 1")
    if a.size % 2 ** (a.depth + 1):
        ap.error(f"--size {a.size} must be a multiple of 2^(depth+1) = {2 ** (a.depth + 1)}")
    a.scan_k = a.scan_k or (2 if a.quick else 4)
    a.reps = a.reps or (5 if a.quick else 15)
    return a


def load_make_model(path: str):
    spec = importlib.util.spec_from_file_location("hourglass_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # flax modules need their defining module importable
    spec.loader.exec_module(module)
    return module.make_model


def main(argv=None):
    a = parse_args(argv)
    # process settings first: JAX reads the affinity when it starts its thread pool
    if a.cpus:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:a.cpus])
    sys.path.insert(0, REPO)
    from hg_jax.runtime import tune_malloc
    malloc_tuned = False if a.no_malloc_tuning else tune_malloc()

    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    sys.path.insert(0, REPO)
    from benchmarks.common import flops

    make_model = load_make_model(a.model_file)
    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.uniform(size=(a.batch, a.size, a.size, 1)), jnp.float32)
    targets = jnp.asarray(rng.normal(size=(a.batch, a.size, a.size, 3)), jnp.float32)
    opt = optax.sgd(0.01)

    def build(norm, conv):
        kwargs = {"norm": norm}  # only what differs from the defaults: older model files lack options
        if a.block != "bottleneck":
            kwargs["block"] = a.block
        if conv != "im2col":
            kwargs["conv"] = conv
        init, apply = make_model(a.stacks, a.depth, a.channels, 1, 3, **kwargs)
        params = init(jax.random.PRNGKey(0), (1, a.size, a.size, 1))

        def sgd_step(carry, batch):
            p, s = carry
            x, y = batch
            loss, g = jax.value_and_grad(lambda p: sum(jnp.mean((o - y) ** 2) for o in apply(p, x)))(p)
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), loss

        args = ((params, opt.init(params)), (images, targets))
        step = jax.jit(sgd_step).lower(*args).compile()
        stacked = jax.tree_util.tree_map(lambda v: jnp.stack([v] * a.scan_k), args[1])
        scan = jax.jit(lambda c, b: jax.lax.scan(sgd_step, c, b)).lower(args[0], stacked).compile()
        return {"step": (step, args), "scan": (scan, (args[0], stacked)), "flops": flops(step),
                "temp_bytes": int(step.memory_analysis().temp_size_in_bytes)}

    # the dominant conv: the residual blocks' 3×3 at the hourglass's working resolution
    c = max(a.channels // 2, 1) if a.block == "bottleneck" else a.channels
    h, chain = a.size // 2, 20
    x = jnp.asarray(rng.normal(size=(a.batch, h, h, c)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(3, 3, c, c)) / np.sqrt(9 * c), jnp.float32)  # keeps |y| ~ |x|

    def conv(x, w):
        return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    conv_flops = flops(jax.jit(conv).lower(x, w).compile())
    convs = jax.jit(lambda x, w: jax.lax.fori_loop(0, chain, lambda i, y: conv(y, w), x)).lower(x, w).compile()

    norms = ["group", "none"] if a.norm == "both" else [a.norm]
    impls = ["im2col", "xla"] if a.conv == "both" else [a.conv]
    variants = [(n, i) for i in impls for n in norms]
    t0 = time.perf_counter()
    built = {v: build(*v) for v in variants}
    compile_s = time.perf_counter() - t0

    def call(fn, args):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        return time.perf_counter() - t

    timed = [("conv", (convs, (x, w)))] + [((v, k), built[v][k]) for v in variants for k in ("step", "scan")]
    for _, (fn, args) in timed:  # warm-up
        call(fn, args), call(fn, args)
    times = {name: [] for name, _ in timed}
    for _ in range(a.reps):  # interleaved, so that load from other jobs hits all alike
        for name, (fn, args) in timed:
            times[name].append(call(fn, args))

    conv_s = float(np.median(times["conv"])) / chain
    conv_gflops = conv_flops / conv_s / 1e9
    res = {"config": {k: getattr(a, k) for k in ("stacks", "depth", "channels", "size", "batch", "block",
                                                  "conv", "scan_k", "reps", "quick", "cpus")},
           "model_file": os.path.relpath(os.path.abspath(a.model_file), REPO),
           "malloc_tuned": malloc_tuned, "threads": len(os.sched_getaffinity(0)),
           "compile_s": round(compile_s, 1),
           "conv": {"shape_nhwc_cin_cout": [a.batch, h, h, c, c], "flops": conv_flops, "s": conv_s,
                    "gflops_per_s": conv_gflops}}
    for n, i in variants:
        f = built[(n, i)]["flops"]
        step_t, scan_t = times[((n, i), "step")], times[((n, i), "scan")]
        step_s, scan_s = float(np.median(step_t)), float(np.median(scan_t)) / a.scan_k
        r = {"flops_per_step": f, "step_s": step_s, "step_s_min": float(min(step_t)),
             "gflops_per_s": f / step_s / 1e9, "ratio": f / step_s / 1e9 / conv_gflops,
             "scan_step_s": scan_s, "scan_ratio": f / scan_s / 1e9 / conv_gflops,
             "temp_mib": round(built[(n, i)]["temp_bytes"] / 2 ** 20, 1)}
        (res if i == impls[0] else res.setdefault(f"{i}_conv", {}))[n] = r
        print(f"conv={i} norm={n}: {step_s * 1e3:.1f} ms/step (min {r['step_s_min'] * 1e3:.1f}), "
              f"{f / 1e9:.3f} GFLOP, {r['gflops_per_s']:.1f} GFLOP/s = {r['ratio']:.2f} x the dominant conv "
              f"({conv_gflops:.1f} GFLOP/s); in a scan of {a.scan_k}: {scan_s * 1e3:.1f} ms/step = "
              f"{r['scan_ratio']:.2f}", flush=True)
    if "xla_conv" in res:  # im2col's count includes its padding columns: also rate it by the textbook count
        for n in norms:
            textbook = res["xla_conv"][n]["flops_per_step"]
            res[n]["ratio_textbook_flops"] = res[n]["ratio"] * textbook / res[n]["flops_per_step"]
    main = res["group" if "group" in norms else norms[0]]
    res.update({k: main[k] for k in ("flops_per_step", "step_s", "gflops_per_s", "ratio")})
    res.update({"norm": "group" if "group" in norms else norms[0], "conv_impl": impls[0],
                "conv_gflops_per_s": conv_gflops, "goal": 0.5, "met": main["ratio"] >= 0.5})
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump(res, fh, indent=1)
    print(f"ratio {res['ratio']:.2f} (goal 0.5, {'met' if res['met'] else 'not met'}); wrote {a.out}")
    return res


if __name__ == "__main__":
    main()
