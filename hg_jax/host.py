"""The one bridge between the host (generators, renderer, worker pool) and jitted code.

Host calls happen in Python *between* jitted pieces rather than through ``jax.pure_callback``:
renders run in worker processes, so the engine submits the β±δ renders, runs the jitted
meta-gradient while they render, then collects — a callback inside jit would block XLA's thread
and serialise the two (benchmarks/host_bridge.py measures both).

Everything crossing this bridge is a dict of numpy float32 arrays shaped (K, B, H, W, C).
"""
from __future__ import annotations

import time

import numpy as np

from hg_jax.generators.base import SAMPLE_KEYS, check_sample, stack_samples


class _Done:
    def __init__(self, value):
        self._value = value

    def result(self):
        return self._value


class InProcessPool:
    """Pool-compatible renderer that runs the sampler in this process.

    Used for samplers with a vectorised ``batch(betas, seeds)`` (the JAX toy), and for debugging.
    """

    def __init__(self, sampler):
        self.sampler = sampler
        self.render_s = 0.0
        self.stats = {"jobs": 0}

    def submit(self, jobs):
        return _Done(self.map(jobs))

    def map(self, jobs):
        t = time.perf_counter()
        if hasattr(self.sampler, "batch"):
            betas = np.stack([np.asarray(b) for b, _ in jobs])
            seeds = np.array([s for _, s in jobs], np.uint32)
            out = self.sampler.batch(betas, seeds)
            samples = [{k: out[k][i] for k in SAMPLE_KEYS} for i in range(len(jobs))]
        else:
            samples = [self.sampler(b, s) for b, s in jobs]
        self.render_s += time.perf_counter() - t
        self.stats["jobs"] += len(jobs)
        return samples

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_pool(sampler, num_workers: int, timeout_s: float = 120.0, max_retries: int = 2,
              backend: str = "processes", ray_address: str = ""):
    if num_workers == 0 or hasattr(sampler, "batch"):
        return InProcessPool(sampler)
    if backend == "ray":
        from hg_jax.render.ray_pool import RayRenderPool

        return RayRenderPool(sampler, num_workers=num_workers, timeout_s=timeout_s,
                             max_retries=max_retries, address=ray_address)
    from hg_jax.render.pool import RenderPool

    return RenderPool(sampler, num_workers=num_workers, timeout_s=timeout_s, max_retries=max_retries)


def seeds_from_key(key, shape) -> np.ndarray:
    """Host integer seeds r for a step, from a jax key (so seeds follow fold_in(key, step))."""
    import jax

    return np.asarray(jax.random.randint(key, shape, 0, np.iinfo(np.int32).max), np.int64)


class PendingBatches:
    """Renders of f(β, r) for a (K, B) array of seeds, possibly still running in the pool."""

    def __init__(self, pool, beta, seeds: np.ndarray):
        self.shape = seeds.shape
        beta = np.asarray(beta, np.float64)
        self._pending = pool.submit([(beta, int(s)) for s in seeds.ravel()])
        self._result = None

    @classmethod
    def from_jobs(cls, pool, jobs, shape) -> "PendingBatches":
        """One (β, seed) job per sample, e.g. a different shape genome per sample."""
        self = cls.__new__(cls)
        self.shape, self._pending, self._result = tuple(shape), pool.submit(list(jobs)), None
        return self

    def result(self) -> dict:
        """The stacked renders; a second call returns the same arrays (the pool hands results out once)."""
        if self._result is None:
            self._result = self._collect()
        return self._result

    def _collect(self) -> dict:
        samples = self._pending.result()
        for i, s in enumerate(samples[:1]):
            check_sample(s, f"sample {i}")
        flat = stack_samples(samples)
        return {k: v.reshape(self.shape + v.shape[1:]) for k, v in flat.items()}


def render_batches(pool, beta, seeds: np.ndarray) -> dict:
    return PendingBatches(pool, beta, seeds).result()
