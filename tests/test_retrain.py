"""hg_jax.retrain: fresh networks on the final β, β0 and a random β, same start and step budget."""
import json

import numpy as np
import pytest

from hg_jax import retrain
from hg_jax.experiment import run
from tests.conftest import load_config


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    c = load_config("toy", "small")
    with c.unlocked():
        c.outer_steps, c.eval_every = 10, 5
    workdir = tmp_path_factory.mktemp("toy") / "run"
    return str(workdir), run(c, str(workdir))


def test_retrain_trains_each_beta_from_the_same_network(toy_run):
    workdir, report = toy_run
    out = retrain.retrain(workdir, steps=6, seeds=(0, 1))
    assert out["steps"] == 8 and out["outer_steps"] == 2          # whole outer steps of K = 4
    saved = json.load(open(f"{workdir}/retrain.json"))
    assert set(saved["summary"]) == {"final", "beta0", "random"}
    final, beta0, rand = (saved["runs"][k] for k in ("final", "beta0", "random"))
    np.testing.assert_allclose(final[0]["beta"], report["rows"]["hybrid"]["beta"])
    np.testing.assert_allclose(beta0[1]["beta"], report["rows"]["hybrid"]["beta_initial"])
    assert not np.allclose(rand[0]["beta"], beta0[0]["beta"])       # a random draw around β0
    assert not np.allclose(rand[0]["beta"], rand[1]["beta"])        # one per seed
    d0 = {json.load(open(f"{workdir}/retrain/{label}/seed_0/report.json"))["rows"]
          ["random_beta" if label == "random" else "fixed"]["init_digest"] for label in ("final", "beta0", "random")}
    assert len(d0) == 1                                              # seed 0: one initial network
    m = saved["summary"]["final"]["heldout"]["loss"]
    assert m["min"] <= m["mean"] <= m["max"] and m["std"] >= 0
    assert "retrained 8 SGD steps" in retrain.format_summary(saved)


def test_retrain_errors_name_the_argument(toy_run, tmp_path):
    workdir, _ = toy_run
    with pytest.raises(FileNotFoundError, match="report.json"):
        retrain.retrain(str(tmp_path), steps=4)
    with pytest.raises(ValueError, match="--row"):
        retrain.retrain(workdir, steps=4, row="nope")
    with pytest.raises(ValueError, match="--steps"):
        retrain.retrain(workdir, steps=0)
