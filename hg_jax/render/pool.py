"""A pool of render worker processes that survives crashed and hung workers. No jax here.

Each worker is a 'spawn'ed process (the parent runs JAX, which must never be forked) that receives
the sampler once, keeps its own renderer, and answers one message per job. A dispatcher thread in
the parent keeps every worker busy, so renders continue while the caller runs jitted compute:
``submit`` returns at once, ``PendingBatch.result()`` waits.

Fault policy (counted in ``stats``):
- a worker that dies (segfault, SIGKILL, OOM) or spends more than ``timeout_s`` on one job is
  killed and replaced; its unfinished jobs are re-run with the same (β, seed), so results are
  identical to a fault-free run;
- a job whose sampler raises is re-run too;
- a job that fails ``max_retries + 1`` times fails its batch: ``result()`` raises RenderError
  naming the seed and the last error. Generators handle their own expected failures (e.g. the
  CSG fallback); a job failing repeatedly is a bug to see, not to hide.
"""
from __future__ import annotations

import collections
import multiprocessing as mp
import multiprocessing.connection as mp_connection
import os
import signal
import sys
import threading
import time
import traceback

import numpy as np


class RenderError(RuntimeError):
    pass


PREFETCH = 2   # jobs in flight per worker (benchmarks/render.py: pool overhead 25% with 1)


def _worker_main(worker_id: int, sampler, task_q, result_conn):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    while True:
        msg = task_q.get()
        if msg is None:
            return
        job_id, beta, seed = msg
        t = time.perf_counter()
        try:
            sample = sampler(beta, seed)
            result_conn.send(("ok", job_id, sample, time.perf_counter() - t))
        except Exception as e:  # reported, retried by the parent
            result_conn.send(("error", job_id, f"{type(e).__name__}: {e}\n{traceback.format_exc()}",
                              time.perf_counter() - t))


class PendingBatch:
    def __init__(self, pool, job_ids):
        self._pool, self._job_ids = pool, job_ids

    def result(self) -> list:
        return self._pool._collect(self._job_ids)


class _Worker:
    def __init__(self, ctx, worker_id, sampler):
        self.id = worker_id
        self.task_q = ctx.Queue()
        # One result pipe per worker, written synchronously by the worker alone: a worker killed
        # mid-send can only break its own pipe. A queue shared by all workers would keep its write
        # lock held by the dead process and silence every other worker (then: timeouts).
        self.conn, child_conn = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_worker_main, args=(worker_id, sampler, self.task_q, child_conn),
                                daemon=True)
        self.proc.start()
        child_conn.close()                # so a dead worker reads as EOF here, not as a silent pipe
        self.jobs = collections.deque()   # job ids sent, in the order the worker runs them
        self.started = 0.0                # when the head of ``jobs`` started

    def kill(self):
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=10)
        self.task_q.close()
        self.conn.close()


class RenderPool:
    def __init__(self, sampler, num_workers: int, timeout_s: float = 120.0, max_retries: int = 2):
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        self.sampler, self.num_workers = sampler, num_workers
        self.timeout_s, self.max_retries = float(timeout_s), int(max_retries)
        self.stats = collections.Counter(jobs=0, worker_crashes=0, timeouts=0, restarts=0, retries=0,
                                         failed_jobs=0, sampler_errors=0)
        self.render_s = 0.0
        self._jobs = {}                       # id -> (beta, seed)
        self._results = {}                    # id -> sample
        self._errors = {}                     # id -> message (final failures)
        self._attempts = collections.Counter()
        self._todo = collections.deque()
        self._next_id = 0
        self._lock = threading.Condition()
        self._closed = False
        if num_workers:
            from hg_jax.render.pyrender_backend import choose_platform

            choose_platform()                 # probe once here; workers inherit the environment
            self._ctx = mp.get_context("spawn")
            self._workers = [_Worker(self._ctx, i, sampler) for i in range(num_workers)]
            self._thread = threading.Thread(target=self._dispatch_loop, daemon=True)
            self._thread.start()

    # ---- public --------------------------------------------------------------------------------
    def submit(self, jobs) -> PendingBatch:
        ids = []
        with self._lock:
            for beta, seed in jobs:
                jid = self._next_id
                self._next_id += 1
                self._jobs[jid] = (np.asarray(beta, np.float64), int(seed))
                self._todo.append(jid)
                ids.append(jid)
            self.stats["jobs"] += len(ids)
            self._lock.notify_all()
        if not self.num_workers:
            for jid in ids:
                self._run_inline(jid)
        return PendingBatch(self, ids)

    def map(self, jobs) -> list:
        return self.submit(jobs).result()

    def close(self):
        if self._closed:
            return
        self._closed = True
        if self.num_workers:
            with self._lock:
                self._lock.notify_all()
            self._thread.join(timeout=10)
            for w in self._workers:
                try:
                    w.task_q.put(None)
                except (ValueError, OSError):
                    pass
            for w in self._workers:
                w.proc.join(timeout=5)
                w.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # ---- internals -------------------------------------------------------------------------------
    def _run_inline(self, jid):
        beta, seed = self._jobs[jid]
        while True:
            t = time.perf_counter()
            try:
                sample = self.sampler(beta, seed)
            except Exception as e:
                self.render_s += time.perf_counter() - t
                if self._fail(jid, f"{type(e).__name__}: {e}"):
                    return
                continue
            self.render_s += time.perf_counter() - t
            with self._lock:
                self._todo.remove(jid)
                self._results[jid] = sample
            return

    def _fail(self, jid, message: str) -> bool:
        """Count a failed attempt; True when the job is given up (its batch will raise)."""
        with self._lock:
            self._attempts[jid] += 1
            self.stats["sampler_errors"] += 1
            if self._attempts[jid] > self.max_retries:
                self.stats["failed_jobs"] += 1
                self._errors[jid] = message
                if jid in self._todo:
                    self._todo.remove(jid)
                self._lock.notify_all()
                return True
            self.stats["retries"] += 1
            return False

    def _collect(self, ids) -> list:
        from tqdm import tqdm

        # a progress bar only for long batches, and only on a terminal
        bar = tqdm(total=len(ids), desc="render", leave=False, mininterval=1.0,
                   disable=len(ids) < 64 or not sys.stderr.isatty())
        try:
            return self._wait(ids, bar)
        finally:
            bar.close()

    def _wait(self, ids, bar) -> list:
        with self._lock:
            while True:
                failed = [j for j in ids if j in self._errors]
                if failed:
                    beta, seed = self._jobs[failed[0]]
                    raise RenderError(f"render of seed {seed} failed {self.max_retries + 1} times; "
                                      f"last error: {self._errors[failed[0]]}")
                if all(j in self._results for j in ids):
                    out = [self._results.pop(j) for j in ids]
                    for j in ids:
                        self._jobs.pop(j, None)
                    return out
                if self._closed:
                    raise RenderError("render pool closed with jobs pending")
                bar.update(sum(j in self._results for j in ids) - bar.n)
                self._lock.wait(timeout=0.5)

    def _replace(self, w: _Worker, reason: str):
        self.stats[reason] += 1
        self.stats["restarts"] += 1
        w.kill()
        with self._lock:
            if w.jobs:
                # the head was running when the worker died or hung: it gets the attempt; the
                # prefetched jobs behind it are simply sent again
                head = w.jobs[0]
                self._attempts[head] += 1
                if self._attempts[head] > self.max_retries:
                    self.stats["failed_jobs"] += 1
                    self._errors[head] = f"worker {reason.rstrip('s')}: exit code {w.proc.exitcode}"
                    self._lock.notify_all()
                    w.jobs.popleft()
                else:
                    self.stats["retries"] += 1
                self._todo.extendleft(reversed(w.jobs))
                w.jobs.clear()
        self._workers[w.id] = _Worker(self._ctx, w.id, self.sampler)

    def _record(self, jid, kind, payload):
        """File one answer: keep the sample, or count a failed attempt and queue the job again."""
        if jid not in self._jobs or jid in self._results:
            return                                  # a duplicate answer (the job was re-run)
        if kind == "ok":
            with self._lock:
                self._results[jid] = payload
                self._lock.notify_all()
        elif not self._fail(jid, payload):
            with self._lock:
                self._todo.appendleft(jid)

    def _from_worker(self, w: _Worker, kind, jid, payload, elapsed):
        if jid in w.jobs:
            w.jobs.remove(jid)
            w.started = time.perf_counter()
        self.render_s += elapsed
        self._record(jid, kind, payload)

    def _drain(self, w: _Worker):
        try:
            while w.conn.poll():
                self._from_worker(w, *w.conn.recv())
        except (EOFError, OSError):
            pass

    def _dispatch_loop(self):
        while not self._closed:
            with self._lock:
                for w in self._workers:
                    while self._todo and self._todo[0] not in self._jobs:
                        self._todo.popleft()        # a late duplicate of a job already collected
                    # PREFETCH jobs in flight per worker: the next one waits in its queue, so the
                    # worker never idles while its result travels back and a new job comes
                    while len(w.jobs) < PREFETCH and self._todo and self._todo[0] in self._jobs:
                        jid = self._todo.popleft()
                        if not w.jobs:
                            w.started = time.perf_counter()
                        w.jobs.append(jid)
                        beta, seed = self._jobs[jid]
                        w.task_q.put((jid, beta, seed))
            by_conn = {w.conn: w for w in self._workers}
            for conn in mp_connection.wait(list(by_conn), timeout=0.05):
                w = by_conn[conn]
                try:
                    kind, jid, payload, elapsed = conn.recv()
                except (EOFError, OSError):  # died, possibly mid-message: its jobs are re-run
                    self._replace(w, "worker_crashes")
                    continue
                self._from_worker(w, kind, jid, payload, elapsed)
            now = time.perf_counter()
            for w in list(self._workers):
                if not w.proc.is_alive():
                    self._drain(w)                  # results it finished sending before it died
                    self._replace(w, "worker_crashes")
                elif w.jobs and now - w.started > self.timeout_s:
                    self._replace(w, "timeouts")
