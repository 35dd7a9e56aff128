"""A real submitit local job array over the toy config's get_sweep(), and the summary table."""
import json
import os
import subprocess
import sys

import pytest

from hg_jax import sweep
from tests.conftest import REPO, load_config

pytestmark = pytest.mark.slow


def test_local_sweep_runs_every_point_and_summarises(tmp_path):
    r = subprocess.run([sys.executable, "launch.py", "--config", "configs/toy.py:small", "--sweep",
                        "--launcher", "local", "--workdir", str(tmp_path), "--config.outer_steps=2",
                        "--config.eval_every=1"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    points = json.load(open(tmp_path / "sweep.json"))
    assert len(points) == 4
    for p in points:
        rep = json.load(open(os.path.join(p["workdir"], "report.json")))
        assert rep["config"]["hybrid"]["sigma"] == p["overrides"]["hybrid.sigma"]
        assert rep["config"]["seed"] == p["overrides"]["seed"]
    rows = sweep.summary(str(tmp_path))
    assert [r["status"] for r in rows] == ["done"] * 4
    out = subprocess.run([sys.executable, "-m", "hg_jax.sweep", "summary", str(tmp_path)], cwd=REPO,
                         capture_output=True, text=True, timeout=120).stdout
    assert "heldout/mse" in out and out.count("done") == 4


def test_bad_override_fails_before_submitting(tmp_path):
    with pytest.raises(ValueError, match="'hybrid.sigmaa' is not a config field"):
        sweep.launch(load_config("toy", "small"), [{"hybrid.sigmaa": 1.0}], str(tmp_path))
    assert not (tmp_path / "submitit").exists()
