"""End to end through experiment.run: files, resume, and the controlled toy driving β toward β*."""
import json

import pytest

from hg_jax.experiment import run
from tests.conftest import load_config

pytestmark = pytest.mark.slow


def _betas(path):
    return [(l["row"], l["step"], l["beta"], l["val_loss"]) for l in map(json.loads, open(path))]


def test_small_run_writes_files_and_resume_reproduces_it(tmp_path):
    c = load_config("toy", "small")
    c.outer_steps, c.checkpoint_every, c.eval_every = 6, 3, 3
    rep = run(c, str(tmp_path / "full"))
    for f in ("report.json", "metrics.jsonl", "samples.png"):
        assert (tmp_path / "full" / f).exists(), f
    lines = [json.loads(l) for l in open(tmp_path / "full" / "metrics.jsonl")]
    assert [l["step"] for l in lines] == [1, 2, 3, 4, 5, 6]
    for key in ("step", "method", "beta", "val_loss", "wall_s", "render_s", "compute_s"):
        assert key in lines[0]
    assert "test" in lines[2] and "test" in lines[5]
    assert rep["beta_error"]["start"] != rep["beta_error"]["end"]

    c.outer_steps = 3                      # stop half way, then resume in the same workdir
    run(c, str(tmp_path / "resumed"))
    c.outer_steps = 6
    run(c, str(tmp_path / "resumed"))
    assert _betas(tmp_path / "resumed" / "metrics.jsonl") == _betas(tmp_path / "full" / "metrics.jsonl")


def test_warmup_steps_train_on_beta0_then_beta_moves(tmp_path):
    """The first ``beta_opt.warmup_steps`` steps of every row train on β0 (marked ``warmup``); the
    network they leave is the one a warmed-up row continues from, and β moves from then on."""
    c = load_config("toy", "small")
    c.outer_steps, c.eval_every, c.beta_opt.warmup_steps, c.baselines = 5, 5, 2, ("fixed",)
    run(c, str(tmp_path / "warm"))
    lines = [json.loads(l) for l in open(tmp_path / "warm" / "metrics.jsonl")]
    hyb = [l for l in lines if l["row"] == "hybrid"]
    fixed = [l for l in lines if l["row"] == "fixed"]
    assert [bool(l.get("warmup")) for l in hyb] == [True, True, False, False, False]
    beta0 = fixed[0]["beta"]
    assert hyb[0]["beta"] == hyb[1]["beta"] == beta0
    assert all(l["beta"] != beta0 for l in hyb[2:])
    # a warm-up step is the fixed method's step: same network, same seeds, same losses
    assert [l["val_loss"] for l in hyb[:2]] == [l["val_loss"] for l in fixed[:2]]


def test_default_toy_run_halves_beta_error(tmp_path):
    rep = run(load_config("toy"), str(tmp_path))
    err = rep["beta_error"]
    assert err["end"] <= 0.5 * err["start"], err
    # the fixed-β row trains with the same budget and leaves β where it started
    assert rep["rows"]["fixed"]["beta_error"]["end"] == pytest.approx(err["start"])
