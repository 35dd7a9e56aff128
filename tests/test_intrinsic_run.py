"""The intrinsic experiment end to end on CPU: texture grammar, real renderer, hourglass, real MBII
photos and real textured scans."""
import json

import numpy as np
import pytest

from hg_jax.evaluate import evaluate
from hg_jax.experiment import run
from tests.conftest import load_config

pytestmark = pytest.mark.slow


def test_small_intrinsic_run_end_to_end(tmp_path, shared_data):
    c = load_config("intrinsic", "small")
    rep = run(c, str(tmp_path))
    for f in ("report.json", "metrics.jsonl", "samples.png"):
        assert (tmp_path / f).exists()
    lines = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
    assert len(lines) == c.outer_steps
    assert set(rep["metrics"]) == {"mbii_test", "textured_test"}
    for m in rep["metrics"].values():
        for what in ("albedo", "shading", "recon"):
            assert np.isfinite(m[f"{what}_mae"]) and 0 <= m[f"{what}_mae"] <= m[f"{what}_rmse"]
        assert 0 <= m["albedo_si_rmse"] <= m["albedo_rmse"] + 1e-9
    assert not np.allclose(rep["rows"]["hybrid"]["beta_initial"], rep["beta"])
    # the evaluation CLI reproduces the MBII test metrics from the checkpoint
    ev = evaluate(str(tmp_path), f"{shared_data}/mbii", objects=",".join(c.data.test_items))
    assert ev["n"] == len(c.data.test_items)
    assert ev["albedo_mae"] == pytest.approx(rep["metrics"]["mbii_test"]["albedo_mae"], rel=1e-4)
    tex = evaluate(str(tmp_path), f"{shared_data}/textured", fmt="textured", views=3)
    assert tex["n"] == 3 and np.isfinite(tex["shading_rmse"])
