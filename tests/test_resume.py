"""Runs survive a hard kill (SIGKILL) and a preemption notice (SIGTERM), and resume identically."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow
ARGS = ["--config", "configs/toy.py:small", "--config.outer_steps=6", "--config.checkpoint_every=1",
        "--config.eval_every=2"]


def _launch(workdir, *extra):
    return subprocess.Popen([sys.executable, "launch.py", *ARGS, *extra, "--workdir", str(workdir)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _steps(path):
    if not os.path.exists(path):
        return 0
    return sum(1 for _ in open(path))


def _trajectory(workdir):
    lines = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
    return [(l["row"], l["step"], l["beta"], l["val_loss"], l.get("test")) for l in lines]


def _interrupt_after(workdir, sig, steps=3, timeout=300):
    p = _launch(workdir)
    t = time.time()
    while _steps(os.path.join(workdir, "metrics.jsonl")) < steps:
        assert p.poll() is None, p.communicate()
        assert time.time() - t < timeout
        time.sleep(0.02)
    p.send_signal(sig)
    p.communicate(timeout=120)
    return p.returncode


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    w = tmp_path_factory.mktemp("full")
    p = _launch(w)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    assert "results in" in out
    return _trajectory(w)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_run_resumes_to_the_same_trajectory(sig, tmp_path, uninterrupted):
    code = _interrupt_after(tmp_path, sig)
    assert code == (-9 if sig == signal.SIGKILL else 143)
    assert _steps(tmp_path / "metrics.jsonl") < 6
    p = _launch(tmp_path)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    assert _trajectory(tmp_path) == uninterrupted
