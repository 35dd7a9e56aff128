"""Helpers shared by the benchmark scripts."""
from __future__ import annotations

import time

import jax
import numpy as np


def median_time(f, *args, reps: int = 5) -> float:
    """Median wall seconds of ``f(*args)`` (blocked until ready) after one warm-up call."""
    jax.block_until_ready(f(*args))
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(f(*args))
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def flops(compiled) -> float:
    """FLOPs of a compiled XLA computation, from its cost analysis."""
    ca = compiled.cost_analysis()
    return float((ca[0] if isinstance(ca, (list, tuple)) else ca)["flops"])
