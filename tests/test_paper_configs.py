"""Every experiment's ``:paper`` config builds: its network initialises (abstractly, jax.eval_shape)
and its outer-step functions get argument shapes, without data, renderer or a GPU."""
import importlib.util
import os

import pytest

from hg_jax import abstract_step

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")


def config(name, variant):
    spec = importlib.util.spec_from_file_location(f"cfg_{name}", os.path.join(CONFIGS, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.get_config(variant)


@pytest.mark.parametrize("name", ["mbii", "nyu", "faces", "intrinsic"])
def test_paper_config_builds_abstractly(name):
    c = config(name, "paper")
    step = abstract_step.build(c)
    params, opt_state, X, val = step.args
    assert X["image"].shape[:2] == (c.inner.unroll_steps, c.inner.batch_size)
    assert X["image"].shape[2:4] == (c.data.size, c.data.size)
    assert step.state_bytes > 10 * 2**20   # 4 stacks x 128 channels: tens of MB with Adam's state
