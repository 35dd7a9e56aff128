"""The Ray render backend: the process pool's results and β trajectory, through killed and hung actors.

One local Ray (2 CPUs, no dashboard, a small object store) for the whole module.
"""
import json
import os
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")
# never beside the README test, whose `ray stop` would end this module's Ray (pyproject: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("ray")

from hg_jax.render.pool import RenderError, RenderPool  # noqa: E402
from hg_jax.render.ray_pool import RayRenderPool, _local_pythonpath  # noqa: E402
from tests.pool_samplers import AlwaysFails, HangOnce, KillOnce, Noise  # noqa: E402

JOBS = [(np.array([1.0, 0.5]), s) for s in range(12)]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=200 * 2**20,
             runtime_env={"env_vars": {"PYTHONPATH": _local_pythonpath()}})
    yield
    ray.shutdown()


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for k in ("image", "target", "mask"):
            assert np.array_equal(x[k], y[k])


def test_actors_match_in_process_overlap_and_survive_ray_kill():
    expected = RenderPool(Noise(), 0).map(JOBS)
    with RayRenderPool(Noise(), 2) as pool:
        t = time.perf_counter()
        pending = pool.submit(JOBS)
        second = pool.submit(JOBS[::-1])
        assert time.perf_counter() - t < 1.0             # submit returns at once
        _same(pending.result(), expected)
        _same(second.result(), expected[::-1])
        assert pool.stats["jobs"] == 24 and pool.stats["restarts"] == 0 and pool.render_s > 0
        # an actor killed from outside (what a lost node looks like) mid-batch
        pending = pool.submit(JOBS * 4)
        while not pool._workers[0].jobs or pool._workers[0].ready_ref is not None:
            time.sleep(0.01)
        ray.kill(pool._workers[0].actor)
        _same(pending.result(), expected * 4)
        assert pool.stats["worker_crashes"] == 1 and pool.stats["restarts"] == 1
        _same(pool.map(JOBS), expected)                  # and the pool keeps working


def test_actor_that_kills_itself_is_replaced_with_identical_results(tmp_path):
    expected = RenderPool(Noise(), 0).map(JOBS)
    with RayRenderPool(KillOnce(marker=str(tmp_path / "killed"), bad_seed=3), 2) as pool:
        _same(pool.map(JOBS), expected)
        assert pool.stats["worker_crashes"] == 1 and pool.stats["retries"] == 1


def test_hung_actor_times_out_and_is_replaced(tmp_path):
    expected = RenderPool(Noise(), 0).map(JOBS)
    with RayRenderPool(HangOnce(marker=str(tmp_path / "hung"), bad_seed=2), 2, timeout_s=3.0) as pool:
        t = time.time()
        _same(pool.map(JOBS), expected)
        assert pool.stats["timeouts"] == 1 and pool.stats["restarts"] == 1
        assert time.time() - t < 90


def test_job_that_always_fails_raises_naming_the_seed():
    with RayRenderPool(AlwaysFails(bad_seed=5), 1, max_retries=1) as pool:
        with pytest.raises(RenderError, match="seed 5 failed 2 times.*never renders"):
            pool.map(JOBS)
        assert pool.stats["failed_jobs"] == 1 and pool.stats["worker_crashes"] == 0


def test_config_names_the_backend_fields():
    from hg_jax.config import ConfigError, validate
    from tests.conftest import load_config

    c = load_config("mbii", "small")
    c.render.backend = "dask"
    with pytest.raises(ConfigError, match="render.backend"):
        validate(c)
    c.render.backend, c.render.num_workers = "ray", 0
    with pytest.raises(ConfigError, match="render.num_workers.*ray"):
        validate(c)


@pytest.mark.slow
def test_same_beta_trajectory_as_the_process_backend(tmp_path, shared_data):
    """The real CSG sampler in a 2-step MBII run: metrics.jsonl's β identical on both backends."""
    from hg_jax.experiment import run
    from tests.conftest import load_config

    def trajectory(backend):
        c = load_config("mbii", "small")
        c.data.mbii_root = f"{shared_data}/mbii"
        c.outer_steps, c.eval_every = 2, 2
        c.data.size, c.data.val_items, c.data.test_items = 16, ("apple", "box"), ("cup1",)
        c.model = dict(num_stacks=1, depth=1, channels=8, norm="group", conv="im2col")
        c.render.backend, c.render.num_workers = backend, 2
        workdir = tmp_path / backend
        rep = run(c, str(workdir))
        lines = [json.loads(l) for l in open(workdir / "metrics.jsonl")]
        return [l["beta"] for l in lines], [l["val_loss"] for l in lines], rep["pool_stats"]

    beta_p, loss_p, _ = trajectory("processes")
    beta_r, loss_r, stats = trajectory("ray")
    assert len(beta_r) == 2 and stats["jobs"] > 0 and stats["restarts"] == 0
    assert beta_r == beta_p and loss_r == loss_p
