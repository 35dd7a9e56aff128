"""The README's extension examples run as written: a generator, an estimator and an experiment."""
import json
import os
import re
import sys

import numpy as np
import pytest

from hg_jax.generators.base import check_sample
from tests.conftest import REPO


def _blocks():
    text = open(os.path.join(REPO, "README.md")).read()
    return re.findall(r"```python\n(.*?)```", text, re.S)


def _block(marker: str) -> str:
    return next(b for b in _blocks() if marker in b)


def _stripes():
    ns = {}
    exec(_block("class Stripes"), ns)
    return ns["Stripes"]


def _toy(method):
    from tests.conftest import load_config

    c = load_config("toy", "small")
    c.method, c.outer_steps, c.eval_every = method, 2, 2
    return c


def test_readme_generator_follows_the_sampler_contract():
    gen = _stripes()()
    beta = gen.default_beta()
    check_sample(gen(beta, 0))
    assert all(np.array_equal(gen(beta, 3)[k], gen(beta, 3)[k]) for k in ("image", "target"))


def test_readme_estimator_runs_in_the_outer_loop(tmp_path):
    from hg_jax.core.estimators import base
    from hg_jax.experiment import run

    exec(_block("class CoordinateSearch"), {})
    try:
        rep = run(_toy("coordinate_search"), str(tmp_path))
        lines = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
        beta0 = np.array(rep["rows"]["coordinate_search"]["beta_initial"])
        steps = [np.array(l["beta"]) for l in lines]
        # step t moves coordinate t only
        assert np.flatnonzero(steps[0] - beta0).tolist() == [0]
        assert np.flatnonzero(steps[1] - steps[0]).tolist() == [1]
        assert all(l["sgd_steps"] == 3 * 4 * l["step"] for l in lines)       # K = 4, three trainings a step
    finally:
        base.REGISTRY.pop("coordinate_search", None)


def test_readme_experiment_runs_end_to_end(tmp_path, monkeypatch):
    import importlib.util

    from hg_jax import experiments
    from hg_jax.experiment import run

    pkg = tmp_path / "user"
    pkg.mkdir()
    (pkg / "stripes_setup.py").write_text(_block("class Stripes") + "\n" + _block("def network_and_task"))
    (pkg / "stripes_config.py").write_text(_block('c.experiment = "stripes"'))
    monkeypatch.syspath_prepend(str(pkg))
    monkeypatch.setitem(experiments.EXPERIMENTS, "stripes", "stripes_setup")
    spec = importlib.util.spec_from_file_location("stripes_config", pkg / "stripes_config.py")
    cfg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cfg)
    c = cfg.get_config("small")
    rep = run(c, str(tmp_path / "run"))
    lines = [json.loads(l) for l in open(tmp_path / "run" / "metrics.jsonl")]
    assert [l["step"] for l in lines] == [1, 2] and all(np.isfinite(l["val_loss"]) for l in lines)
    assert set(rep["metrics"]) == {"stripes_test"} and rep["beta_error"]["end"] != rep["beta_error"]["start"]
    with pytest.raises(ValueError, match="unknown variant"):
        cfg.get_config("huge")
    c.data.val_count = 0
    with pytest.raises(ValueError, match="config.data.val_count"):
        experiments.validate(c)
    sys.modules.pop("stripes_setup", None)
