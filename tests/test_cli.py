"""Command lines: a user error is one line on stderr with exit code 2, a bug keeps its traceback,
``--verbose`` shows a user error's traceback; relative and ``~`` paths reach orbax absolute."""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args, cwd=REPO):
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def _one_line_error(p, *needles):
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert p.returncode == 2, p.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("args, needles", [
    (["--config", "configs/toy.py:small", "--config.hybrid.sigma=-1"], ["config.hybrid.sigma", "allowed > 0"]),
    (["--config", "configs/mbii.py:nope"], ["unknown variant 'nope'", "allowed"]),
    (["--config", "configs/mbii.py", "--config.hybrid.sigmaa=1"], ["unknown config field 'sigmaa'"]),
    (["--config", "configs/mbii.py:small", "--bogus"], ["bogus"]),
])
def test_launch_user_errors_are_one_line(args, needles, tmp_path):
    _one_line_error(_run("launch.py", *args, "--workdir", str(tmp_path / "w")), *needles)


def test_missing_data_root_is_one_line(tmp_path):
    p = _run("launch.py", "--config", "configs/mbii.py:small", "--config.data.mbii_root=/nonexistent",
             "--workdir", str(tmp_path / "w"))
    _one_line_error(p, "/nonexistent")


def test_workdir_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    p = _run(os.path.join(REPO, "launch.py"), "--config", os.path.join(REPO, "configs/toy.py:small"),
             "--workdir", "f", cwd=tmp_path)   # relative: resolved against the caller's directory
    _one_line_error(p, "--workdir is a file", str(tmp_path / "f"))


def test_verbose_shows_the_traceback_of_a_user_error(tmp_path):
    p = _run("launch.py", "--config", "configs/toy.py:small", "--config.hybrid.sigma=-1", "--verbose",
             "--workdir", str(tmp_path / "w"))
    assert p.returncode == 2 and "Traceback" in p.stderr and "error: config.hybrid.sigma" in p.stderr


def test_a_bug_keeps_its_traceback(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.jsonl").write_text(json.dumps({"step": 1}) + "\n")   # no "row": a crash
    p = _run("-m", "hg_jax.plot", "run", cwd=tmp_path)
    assert p.returncode not in (0, 2) and "Traceback" in p.stderr and "KeyError" in p.stderr


def test_evaluate_missing_data_and_bad_flag_are_one_line(tmp_path):
    (tmp_path / "run").mkdir()
    _one_line_error(_run("-m", "hg_jax.evaluate", "--workdir", "run", "--data", "nowhere", cwd=tmp_path),
                    "--data does not exist", str(tmp_path / "nowhere"))
    _one_line_error(_run("-m", "hg_jax.evaluate", "--workdir", "run", cwd=tmp_path), "--data")


def test_load_trained_accepts_relative_and_home_paths(tmp_path, monkeypatch):
    from hg_jax import checkpoint
    from hg_jax.core.state import OuterState

    run = tmp_path / "runs" / "r"
    state = OuterState(step=1, beta=np.zeros(2), beta_opt_state=(), params={"w": np.arange(3.0)},
                       inner_opt_state=(), key=jax.random.PRNGKey(0))
    monkeypatch.chdir(tmp_path)
    ckpt = checkpoint.Checkpointer("runs/r/checkpoints/hybrid")        # relative: orbax saw it absolute
    ckpt.save(state, {})
    ckpt.wait()
    (run / "report.json").write_text(json.dumps({"config": {"method": "hybrid"}}))
    monkeypatch.setenv("HOME", str(tmp_path))
    for where in ("runs/r", "~/runs/r", str(run)):
        _, params = checkpoint.load_trained(where)
        np.testing.assert_array_equal(params["w"], np.arange(3.0))
