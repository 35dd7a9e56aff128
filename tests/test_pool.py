"""The render pool: same results as in-process, in order, through real worker crashes and hangs."""
import os
import random
import signal
import threading
import time

import numpy as np
import pytest

from hg_jax.render.pool import RenderError, RenderPool
from tests.pool_samplers import AlwaysFails, HangOnce, KillOnce, Noise

JOBS = [(np.array([1.0, 0.5]), s) for s in range(12)]


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for k in ("image", "target", "mask"):
            assert np.array_equal(x[k], y[k])


def test_workers_match_in_process_and_overlap_with_the_caller():
    expected = RenderPool(Noise(), 0).map(JOBS)
    with RenderPool(Noise(), 2) as pool:
        pending = pool.submit(JOBS)
        second = pool.submit(JOBS[::-1])
        _same(pending.result(), expected)
        _same(second.result(), expected[::-1])
        assert pool.stats["jobs"] == 24 and pool.stats["restarts"] == 0
        assert pool.render_s > 0


def test_killed_worker_is_replaced_and_the_batch_is_identical(tmp_path):
    expected = RenderPool(Noise(), 0).map(JOBS)
    with RenderPool(KillOnce(marker=str(tmp_path / "killed"), bad_seed=3), 2) as pool:
        _same(pool.map(JOBS), expected)
        assert pool.stats["worker_crashes"] == 1 and pool.stats["retries"] == 1
        _same(pool.map(JOBS), expected)          # and the pool keeps working


def test_workers_killed_at_random_moments_never_silence_the_pool():
    # SIGKILLs from outside land anywhere, also while a worker is sending a 3 MB result. A result
    # channel shared by the workers (one lock) would be left locked by the dead sender, and every
    # later answer would be lost: timeouts. Only the killed workers' jobs may be re-run.
    jobs = [(np.array([1.0, 0.5]), s) for s in range(48)]
    expected = RenderPool(Noise(512), 0).map(jobs)
    kills, rng = [], random.Random(0)
    with RenderPool(Noise(512), 2, timeout_s=30.0, max_retries=8) as pool:
        def killer():
            while len(kills) < 6:
                time.sleep(rng.uniform(0.05, 0.4))
                proc = pool._workers[rng.randrange(2)].proc
                if proc.is_alive() and proc.pid not in kills:
                    os.kill(proc.pid, signal.SIGKILL)
                    kills.append(proc.pid)

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        while thread.is_alive():
            _same(pool.map(jobs), expected)
        _same(pool.map(jobs), expected)
        assert len(kills) == 6 and pool.stats["timeouts"] == 0
        assert pool.stats["worker_crashes"] == 6 and pool.stats["failed_jobs"] == 0


def test_hung_worker_times_out_and_is_replaced(tmp_path):
    expected = RenderPool(Noise(), 0).map(JOBS)
    with RenderPool(HangOnce(marker=str(tmp_path / "hung"), bad_seed=2), 2, timeout_s=3.0) as pool:
        t = time.time()
        _same(pool.map(JOBS), expected)
        assert pool.stats["timeouts"] == 1
        assert time.time() - t < 60


@pytest.mark.parametrize("workers", [0, 2])
def test_job_that_always_fails_raises_naming_the_seed(workers):
    with RenderPool(AlwaysFails(bad_seed=5), workers, max_retries=1) as pool:
        with pytest.raises(RenderError, match="seed 5 failed 2 times.*never renders"):
            pool.map(JOBS)
        assert pool.stats["failed_jobs"] == 1
