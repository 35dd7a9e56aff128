"""The one bridge between the host (generators, renderer, worker pools) and jitted code.

Host calls happen in Python *between* jitted pieces rather than through ``jax.pure_callback``:
renders run in worker processes, so the outer loop submits every render an estimator asks for,
runs the jitted network compute while they render, then collects. A callback inside jit would
block XLA's thread and serialise the two (benchmarks/host_bridge.py measures both).

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

    Used for samplers with a vectorised ``batch(params, seeds)`` (the JAX toy), and for debugging.
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
    """Renders for a (K, B) array of seeds, possibly still running in the pool.

    ``params`` is one parameter vector shared by every sample (a β, shape (d,)) or one per sample
    (shape (K, B, d): a β per image, or a shape genome per image)."""

    def __init__(self, pool, params, seeds: np.ndarray):
        seeds = np.asarray(seeds)
        self.shape = seeds.shape
        params = np.asarray(params, np.float64)
        if params.ndim == 1:
            jobs = [(params, int(s)) for s in seeds.ravel()]
        else:
            if params.shape[:-1] != seeds.shape:
                raise ValueError(f"per-sample parameters {params.shape} do not match the seeds {seeds.shape}")
            flat = params.reshape(-1, params.shape[-1])
            jobs = [(flat[i], int(s)) for i, s in enumerate(seeds.ravel())]
        self._pending = pool.submit(jobs)
        self._result = None

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


class Renders:
    """What the loop hands an estimator's ``tell``: its request and the submitted batches."""

    def __init__(self, request, train: PendingBatches, probes: tuple):
        self.request, self.train, self.probes = request, train, tuple(probes)


class Pools:
    """The render pools of a run, one per sampler kind (``"beta"``: the experiment's f(β, r); other
    kinds, e.g. ``"genome"``, only when an estimator's request asks for them). Pools start lazily
    and are reused by every row; ``close`` stops them all."""

    def __init__(self, samplers: dict, num_workers: int = 0, timeout_s: float = 120.0,
                 max_retries: int = 2, backend: str = "processes", ray_address: str = ""):
        self.samplers = dict(samplers)
        self._settings = (num_workers, timeout_s, max_retries, backend, ray_address)
        self._pools: dict = {}

    @classmethod
    def of(cls, **pools) -> "Pools":
        """Pools around already started ones, e.g. ``Pools.of(beta=InProcessPool(sampler))``."""
        self = cls({k: getattr(p, "sampler", None) for k, p in pools.items()})
        self._pools.update(pools)
        return self

    def get(self, kind: str = "beta"):
        if kind not in self._pools:
            if kind not in self.samplers:
                raise ValueError(f"no sampler of kind {kind!r} in this experiment: it has {sorted(self.samplers)}")
            self._pools[kind] = make_pool(self.samplers[kind], *self._settings)
        return self._pools[kind]

    def submit(self, request) -> Renders:
        """Submit every batch of ``request`` at once (training batch first), so the workers render
        while the caller computes."""
        pool = self.get(request.sampler)
        train = PendingBatches(pool, request.train, request.seeds)
        return Renders(request, train, [PendingBatches(pool, p, request.seeds) for p in request.probes])

    @property
    def render_s(self) -> float:
        return sum(p.render_s for p in self._pools.values())

    @property
    def stats(self) -> dict:
        out: dict = {}
        for p in self._pools.values():
            for k, v in getattr(p, "stats", {}).items():
                out[k] = out.get(k, 0) + v
        return out

    def close(self) -> None:
        for p in self._pools.values():
            p.close()
        self._pools.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
