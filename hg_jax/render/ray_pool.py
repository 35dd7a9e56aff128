"""Render workers as Ray actors: the same jobs, results and fault policy as pool.py's processes. No jax.

Each actor is one render worker holding one renderer; the sampler is ``ray.put`` once and every
actor is built from that one object. A dispatcher thread keeps ``PREFETCH`` jobs in flight per
actor (Ray runs one caller's tasks on an actor in order, so the head of an actor's queue is the job
it is rendering), so renders continue while the caller runs jitted compute. Bookkeeping (submit,
result, retries, RenderError) is RenderPool's; only the workers differ.

Fault policy, counted in the same ``stats`` keys as pool.py:
- an actor that dies (``ray.kill``, segfault, a lost node) or spends more than ``timeout_s`` on one
  job is killed and replaced; its unfinished jobs are re-run with the same (β, seed);
- a sampler exception is returned by the actor (not raised), so it is retried as a job failure and
  never mistaken for a dead actor.

Where Ray runs: ``address=""`` starts a local Ray (shut down on close) unless this process is
already connected; "auto" or "host:port" joins a running cluster (``ray start --head``).
"""
from __future__ import annotations

import collections
import os
import sys
import threading
import time
import traceback

import numpy as np

from hg_jax.render.pool import PREFETCH, RenderPool

# samples are copied out of the object store as they arrive, so it only ever holds the jobs in
# flight (PREFETCH per actor): a small store is enough and leaves shared machines their memory
LOCAL_OBJECT_STORE_BYTES = 512 * 2**20


def _import_ray():
    try:
        import ray
    except ImportError as e:  # pragma: no cover - ray is a dependency; this names the fix
        raise ImportError("config.render.backend = 'ray' needs the ray package: pip install ray") from e
    return ray


def _local_pythonpath() -> str:
    """The driver's own import paths (the repo, tests/ helpers), not the interpreter's: a spawned
    process inherits sys.path, a Ray worker only the environment."""
    prefixes = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
    own = [p for p in sys.path if p and os.path.isdir(p) and not os.path.abspath(p).startswith(prefixes)]
    env = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys(env + [os.path.abspath(p) for p in own]))


def connect(address: str = "", num_cpus: int | None = None) -> bool:
    """Connect this process to Ray; True when it started a local Ray that it should shut down."""
    ray = _import_ray()
    if ray.is_initialized():
        return False
    import logging

    if address:
        ray.init(address=address, logging_level=logging.WARNING)
        return True
    from hg_jax.render.pyrender_backend import choose_platform

    env = {"PYTHONPATH": _local_pythonpath(), "PYOPENGL_PLATFORM": choose_platform()}
    # address="local": always a new local instance, never a cluster another process left running
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False,
             object_store_memory=LOCAL_OBJECT_STORE_BYTES, logging_level=logging.WARNING, runtime_env={"env_vars": env})
    return True


class _RenderActor:
    """One render worker. Its renderer is built by the sampler on the first job, after the sampler
    picked the GL platform of the node it runs on (a local Ray is given the driver's choice)."""

    def __init__(self, sampler):
        self.sampler = sampler

    def ready(self):
        return os.getpid()

    def render(self, beta, seed):
        t = time.perf_counter()
        try:
            return "ok", self.sampler(beta, seed), time.perf_counter() - t
        except Exception as e:
            return "error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}", time.perf_counter() - t


class _Slot:
    def __init__(self, actor_cls, sampler_ref):
        self.actor = actor_cls.remote(sampler_ref)
        self.ready_ref = self.actor.ready.remote()   # the timeout clock starts once it is built
        self.jobs = collections.deque()              # (job id, ref), in the order the actor runs them
        self.started = None                          # when the head of ``jobs`` started


def _own_copy(sample):
    # a numpy array from ray.get is a view pinning the object store; own the memory instead
    return {k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in sample.items()}


class RayRenderPool(RenderPool):
    backend = "ray"

    def __init__(self, sampler, num_workers: int, timeout_s: float = 120.0, max_retries: int = 2,
                 address: str = "", cpus_per_worker: float = 1.0):
        if num_workers < 1:
            raise ValueError(f"the Ray render pool needs num_workers >= 1 actors, got {num_workers}")
        super().__init__(sampler, 0, timeout_s, max_retries)   # the bookkeeping, no processes
        self.num_workers, self.address = num_workers, address
        self._ray = _import_ray()
        self._owns_ray = connect(address, num_cpus=None if address else max(num_workers, 1))
        self._actor_cls = self._ray.remote(num_cpus=cpus_per_worker, max_restarts=0)(_RenderActor)
        self._sampler_ref = self._ray.put(sampler)
        self._workers = [_Slot(self._actor_cls, self._sampler_ref) for _ in range(num_workers)]
        self._refs = {}                                       # in-flight ref -> (slot index, job id)
        self._thread = threading.Thread(target=self._dispatch_loop, daemon=True)
        self._thread.start()

    def close(self):
        if self._closed:
            return
        self._closed = True
        with self._lock:
            self._lock.notify_all()
        if getattr(self, "_thread", None) is not None:
            self._thread.join(timeout=10)
        for w in getattr(self, "_workers", []):
            try:
                self._ray.kill(w.actor, no_restart=True)
            except Exception:
                pass
        if getattr(self, "_owns_ray", False):
            self._ray.shutdown()

    # ---- internals -------------------------------------------------------------------------------
    def _replace(self, i: int, reason: str, message: str):
        w = self._workers[i]
        self.stats[reason] += 1
        self.stats["restarts"] += 1
        try:
            self._ray.kill(w.actor, no_restart=True)
        except Exception:
            pass
        with self._lock:
            for _, ref in w.jobs:
                self._refs.pop(ref, None)
            jids = [j for j, _ in w.jobs]
            if jids:
                # the head was running when the actor died or hung: it gets the attempt; the
                # prefetched jobs behind it are simply sent again
                head = jids[0]
                self._attempts[head] += 1
                if self._attempts[head] > self.max_retries:
                    self.stats["failed_jobs"] += 1
                    self._errors[head] = f"render actor {reason.rstrip('s')}: {message[:500]}"
                    self._lock.notify_all()
                    jids = jids[1:]
                else:
                    self.stats["retries"] += 1
                self._todo.extendleft(reversed(jids))
            w.jobs.clear()
            self._workers[i] = _Slot(self._actor_cls, self._sampler_ref)

    def _send(self):
        with self._lock:
            for i, w in enumerate(self._workers):
                while self._todo and self._todo[0] not in self._jobs:
                    self._todo.popleft()            # a late duplicate of a job already collected
                while len(w.jobs) < PREFETCH and self._todo and self._todo[0] in self._jobs:
                    jid = self._todo.popleft()
                    if not w.jobs and w.ready_ref is None:
                        w.started = time.perf_counter()
                    beta, seed = self._jobs[jid]
                    ref = w.actor.render.remote(beta, seed)
                    w.jobs.append((jid, ref))
                    self._refs[ref] = (i, jid)

    def _receive(self, ref):
        ray = self._ray
        i, jid = self._refs.pop(ref, (None, None))
        if i is None:
            return                                  # an answer of an actor already replaced
        w = self._workers[i]
        try:
            kind, payload, elapsed = ray.get(ref)
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as e:
            self._replace(i, "worker_crashes", f"{type(e).__name__}: {e}")
            return
        if w.jobs and w.jobs[0][1] == ref:
            w.jobs.popleft()
        else:
            w.jobs = collections.deque(x for x in w.jobs if x[1] != ref)
        w.started = time.perf_counter()
        self.render_s += elapsed
        self._record(jid, kind, _own_copy(payload) if kind == "ok" else payload)

    def _dispatch_loop(self):
        ray = self._ray
        while not self._closed:
            self._send()
            readies = {w.ready_ref: i for i, w in enumerate(self._workers) if w.ready_ref is not None}
            refs = list(self._refs) + list(readies)
            if not refs:
                with self._lock:
                    if not self._todo and not self._closed:
                        self._lock.wait(timeout=0.05)   # submit() notifies
                continue
            done, _ = ray.wait(refs, num_returns=1, timeout=0.05)
            if done:
                done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in done:
                if ref in readies:
                    i = readies[ref]
                    w = self._workers[i]
                    if w.ready_ref is not ref:
                        continue
                    try:
                        ray.get(ref)
                    except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as e:
                        self._replace(i, "worker_crashes", f"{type(e).__name__}: {e}")
                        continue
                    w.ready_ref, w.started = None, time.perf_counter()
                else:
                    self._receive(ref)
            now = time.perf_counter()
            for i, w in enumerate(self._workers):
                if w.jobs and w.ready_ref is None and now - w.started > self.timeout_s:
                    self._replace(i, "timeouts", f"no result within render.timeout_s = {self.timeout_s} s")
