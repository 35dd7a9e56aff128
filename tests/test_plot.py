"""hg_jax.plot draws from real run directories; bad paths fail clearly."""
import subprocess
import sys

import pytest

from hg_jax.experiment import run
from hg_jax.plot import plot
from tests.conftest import REPO, load_config


def test_plot_one_and_many_workdirs(tmp_path):
    c = load_config("toy", "small")
    c.outer_steps, c.eval_every = 2, 1
    for name in ("a", "b"):
        run(c, str(tmp_path / name))
    out = plot([str(tmp_path / "a"), str(tmp_path / "b")], str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").stat().st_size > 10_000
    r = subprocess.run([sys.executable, "-m", "hg_jax.plot", str(tmp_path / "nope")], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "metrics.jsonl not found" in r.stderr
