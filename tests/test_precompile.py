"""Background compilation of the meta-gradient (hg_jax/core/precompile.py): the first real call is
served by the executable compiled from shapes alone, without tracing or compiling again, and a run
trains the rows that never call it first while keeping the report's row order."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hg_jax.core import precompile
from hg_jax.experiment import run
from tests.conftest import load_config


def _fn():
    # a fresh jit each time: the caches under test belong to one jitted function
    return jax.jit(lambda p, x: {"y": jnp.tanh(x["a"] @ p) * x["b"]})


def _args():
    return jnp.ones((4, 3)), {"a": np.ones((2, 4), np.float32), "b": np.full((2, 3), 2.0, np.float32)}


def test_first_call_after_background_compile_does_no_compile_work():
    f, args = _fn(), _args()
    abstract = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype), args)
    ahead = precompile.Ahead(f, abstract, "f")
    out = ahead(*args)
    assert ahead.error is None and ahead.compile_s is not None
    assert ahead.first_call_work == []
    np.testing.assert_allclose(out["y"], 2 * np.tanh(4.0) * np.ones((2, 3)), rtol=1e-6)
    assert ahead.lower(*abstract) is not None          # the jit's own attributes pass through


def test_a_call_with_other_shapes_is_seen_to_compile(capsys):
    f, args = _fn(), _args()
    wrong = (jax.ShapeDtypeStruct((4, 3), jnp.float32),
             {"a": jax.ShapeDtypeStruct((5, 4), jnp.float32), "b": jax.ShapeDtypeStruct((5, 3), jnp.float32)})
    ahead = precompile.Ahead(f, wrong, "f")
    ahead(*args)
    assert "/jax/core/compile/backend_compile_duration" in ahead.first_call_work
    assert "argument specs differ" in capsys.readouterr().err


def test_ahead_skips_what_cannot_or_need_not_be_compiled_again():
    f, args = _fn(), _args()
    plain = lambda p, x: x                            # noqa: E731 — e.g. the data-parallel wrappers
    assert precompile.ahead(plain, args, "plain") is plain
    first = precompile.ahead(f, args, "f")
    assert isinstance(first, precompile.Ahead)
    first.wait()
    assert precompile.ahead(f, args, "f") is f        # already compiled here for these shapes


@pytest.mark.slow
def test_run_compiles_meta_grad_ahead_and_trains_it_last(tmp_path):
    c = load_config("toy", "small")
    c.baselines = ("fixed",)
    c.outer_steps, c.eval_every = 3, 3
    rep = run(c, str(tmp_path))
    assert list(rep["rows"]) == ["hybrid", "fixed"]                  # report: configured order
    assert rep["precompile"]["error"] is None
    assert rep["precompile"]["first_call_work"] == []
    rows = [json.loads(l)["row"] for l in open(tmp_path / "metrics.jsonl")]
    assert rows == ["fixed"] * 3 + ["hybrid"] * 3                    # trained: fixed first
    assert rep["rows"]["hybrid"]["skipped_updates"] == 0
    assert rep["rows"]["hybrid"]["init_digest"] == rep["rows"]["fixed"]["init_digest"]
    again = run(c, str(tmp_path))              # resumed after the last step: nothing to compile for
    assert "precompile" not in again
    assert again["rows"]["hybrid"]["beta"] == rep["rows"]["hybrid"]["beta"]
