"""Registry-wide smoke test: every estimator runs two outer steps of a tiny toy config."""
import json

import numpy as np
import pytest

from hg_jax.experiment import run
from hg_jax.core.estimators.base import available, entry
from tests.conftest import load_config


@pytest.mark.parametrize("method", [m for m in available() if m != "evolution"])  # evolution: CSG only, below
def test_every_method_runs_two_steps(method, tmp_path):
    c = load_config("toy", "small")
    c.method, c.outer_steps, c.eval_every, c.hybrid.num_directions = method, 2, 1, 2
    rep = run(c, str(tmp_path))
    lines = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
    assert [l["step"] for l in lines] == [1, 2]
    assert all(np.isfinite(l["val_loss"]) for l in lines)
    assert all(l["render_s"] >= 0 and l["compute_s"] > 0 for l in lines)
    assert all(l["sgd_steps"] % c.inner.unroll_steps == 0 for l in lines) and lines[1]["sgd_steps"] > lines[0]["sgd_steps"]
    beta0 = rep["rows"][method]["beta_error"]["start"]
    if not entry(method).make.updates_beta:
        assert lines[0]["beta"] == lines[1]["beta"]          # held fixed
    else:
        assert lines[0]["beta"] != lines[1]["beta"]          # updated at every step
    if method == "random_beta":                              # drawn away from β0, then fixed
        assert rep["beta_error"]["end"] != pytest.approx(beta0)


@pytest.mark.slow
def test_evolution_runs_two_steps_on_the_csg_experiment(tmp_path):
    c = load_config("mbii", "small")
    c.method, c.outer_steps, c.eval_every, c.hybrid.num_directions = "evolution", 2, 1, 2
    c.beta_opt.warmup_steps = 0       # both steps are evolution steps
    run(c, str(tmp_path))
    lines = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
    assert [l["step"] for l in lines] == [1, 2]
    assert all(len(l["candidate_losses"]) == 2 and np.all(np.isfinite(l["candidate_losses"])) for l in lines)
    assert lines[-1]["render_s"] > 0 and lines[0]["beta"] == lines[1]["beta"]
    # counted like every estimator: 2 children + 8 re-scored members + the population batch per step
    k, b, trainings = c.inner.unroll_steps, c.inner.batch_size, 2 + c.evolution.population + 1
    assert all(l["rescored"] for l in lines)
    assert [l["renders"] for l in lines] == [trainings * k * b, 2 * trainings * k * b]
    assert [l["sgd_steps"] for l in lines] == [trainings * k, 2 * trainings * k]


def test_evolution_refuses_a_non_csg_experiment(tmp_path):
    c = load_config("toy", "small")
    c.method = "evolution"
    with pytest.raises(ValueError, match="needs a CSG experiment"):
        run(c, str(tmp_path))
