"""The MBII experiment end to end on CPU: real renderer, CSG grammar, hourglass, real MBII objects."""
import json

import numpy as np
import pytest

from hg_jax.evaluate import evaluate
from hg_jax.experiment import run
from tests.conftest import load_config

pytestmark = pytest.mark.slow


def test_small_mbii_run_end_to_end(tmp_path, shared_data):
    c = load_config("mbii", "small")
    rep = run(c, str(tmp_path))
    for f in ("report.json", "metrics.jsonl", "samples.png"):
        assert (tmp_path / f).exists()
    lines = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
    assert len(lines) == c.outer_steps
    assert lines[-1]["render_s"] > 0 and lines[-1]["compute_s"] > 0
    m = rep["metrics"]["mbii_test"]
    assert 0 < m["mean_angle"] < 90 and 0 <= m["median_angle"] <= 180 and 0 <= m["mse"] <= 4
    assert 0 <= m["within_11.25"] <= m["within_22.5"] <= m["within_30"] <= 100
    assert not np.allclose(rep["rows"]["hybrid"]["beta_initial"], rep["beta"])   # β changed
    assert all(np.all(np.isfinite(l["beta"])) for l in lines)
    # the evaluation CLI reproduces the test metrics from the checkpoint, on any MBII-layout folder
    ev = evaluate(str(tmp_path), f"{shared_data}/mbii", objects=",".join(c.data.test_items))
    assert ev["n"] == len(c.data.test_items)
    assert ev["mean_angle"] == pytest.approx(m["mean_angle"], rel=1e-4)
    sub = evaluate(str(tmp_path), f"{shared_data}/mbii", objects="cup2,deer", input="diffuse.png")
    assert sub["n"] == 2
