"""The NYU experiment end to end on CPU: perturbed procedural rooms, real renderer, hourglass, the
real embedded NYU / SUN RGB-D frames."""
import json

import numpy as np
import pytest

from hg_jax.evaluate import evaluate
from hg_jax.experiment import run
from tests.conftest import load_config

pytestmark = pytest.mark.slow


def test_small_nyu_run_end_to_end(tmp_path, shared_data):
    c = load_config("nyu", "small")
    c.baselines = ("random_beta", "original")   # the three Table-3 rows, at the smallest scale
    c.outer_steps = 2
    c.eval_every = 2
    rep = run(c, str(tmp_path))
    for f in ("report.json", "metrics.jsonl", "samples.png"):
        assert (tmp_path / f).exists()
    assert set(rep["rows"]) == {"hybrid", "random_beta", "original"}
    # the meta-gradient compiled in the background from shapes alone serves the real renders' call
    assert rep["precompile"]["error"] is None and rep["precompile"]["first_call_work"] == []
    for row in rep["rows"].values():
        m = row["test"]["nyu_test"]
        assert 0 < m["mean_angle"] < 90 and 0 <= m["within_11.25"] <= m["within_22.5"] <= m["within_30"] <= 100
    assert any("tiny" in n for n in rep["notes"])
    lines = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
    assert all(np.all(np.isfinite(l["beta"])) for l in lines)
    assert not np.allclose(rep["rows"]["hybrid"]["beta_initial"], rep["beta"])
    ev = evaluate(str(tmp_path), f"{shared_data}/rgbd", fmt="rgbd", objects="NYU")
    assert ev["n"] == 1
    assert ev["mean_angle"] == pytest.approx(rep["metrics"]["nyu_test"]["mean_angle"], rel=1e-4)
