"""Bad input fails up front with a message naming the field, before any data or compute."""
import os
import subprocess
import sys

import pytest

from hg_jax import config as config_lib
from hg_jax.experiment import run
from tests.conftest import load_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _toy():
    return load_config("toy", "small")


@pytest.mark.parametrize("field,value,message", [
    ("hybrid.sigma", 0.0, "config.hybrid.sigma"),
    ("hybrid.sigma", -1.0, "config.hybrid.sigma"),
    ("hybrid.num_directions", 0, "config.hybrid.num_directions"),
    ("inner.unroll_steps", 0, "config.inner.unroll_steps"),
    ("inner.batch_size", 0, "config.inner.batch_size"),
    ("method", "bogus", "config.method"),
    ("hybrid.normalisation", "whatever", "config.hybrid.normalisation"),
    ("beta_opt.decay", 1.5, "config.beta_opt.decay"),
    ("beta_opt.warmup_steps", -1, "config.beta_opt.warmup_steps"),
    ("beta_opt.momentum", 1.0, "config.beta_opt.momentum"),
    ("beta_opt.schedule", "linear", "config.beta_opt.schedule"),
    ("beta_opt.scale", "per_leaf", "config.beta_opt.scale"),
    ("beta_opt.warmup_steps", 20, "config.beta_opt.warmup_steps"),     # = outer_steps: β would never move
])
def test_invalid_values_name_the_field(field, value, message, tmp_path, monkeypatch):
    c = _toy()
    section, _, name = field.rpartition(".")
    (c[section] if section else c)[name] = value
    from hg_jax import experiments
    monkeypatch.setattr(experiments, "build", lambda *_: pytest.fail("setup built before validation"))
    with pytest.raises(config_lib.ConfigError, match=message.replace(".", r"\.")):
        run(c, str(tmp_path))
    assert not os.path.exists(tmp_path / "metrics.jsonl")


def test_wrong_beta_length_names_the_field(tmp_path):
    c = _toy()
    c.beta_init = (0.0, 1.0)
    with pytest.raises(config_lib.ConfigError, match=r"config\.beta_init has length 2.*exactly 4"):
        run(c, str(tmp_path))
    assert not os.path.exists(tmp_path / "metrics.jsonl")


def test_unknown_config_key_fails_on_the_command_line(tmp_path):
    r = subprocess.run([sys.executable, "launch.py", "--config", "configs/toy.py:small",
                        "--workdir", str(tmp_path / "w"), "--config.hybrid.sigmaa=0.1"],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "sigmaa" in r.stderr
    assert not os.path.exists(tmp_path / "w")


def test_unknown_variant_is_an_error():
    with pytest.raises(ValueError, match="unknown variant"):
        load_config("toy", "huge")


@pytest.mark.parametrize("experiment,field,value,message", [
    ("nyu", "data.source", "suncg", "config.data.source"),
    ("nyu", "data.test_items", ("SUN",), "overlap"),
    ("nyu", "data.val_items", ("KITCHEN",), "not embedded frames"),
    ("nyu", "data.input", "hsv", "config.data.input"),
    ("nyu", "model.norm", "batch", "config.model.norm"),
    ("nyu", "data.size", 30, "config.data.size"),
    ("intrinsic", "data.test_items", ("apple",), "overlap"),
    ("intrinsic", "data.val_count", -1, "config.data.val_count"),
    ("intrinsic", "data.textured_layout", "zip", "config.data.textured_layout"),
    ("mbii", "model.conv", "fft", "config.model.conv"),
])
def test_setup_fields_fail_before_data(experiment, field, value, message, tmp_path, monkeypatch):
    from hg_jax import experiments

    c = load_config(experiment, "small")
    monkeypatch.setenv("HG_JAX_DATA", str(tmp_path / "absent"))   # any data read would fail otherwise
    section, key = field.split(".")
    with c.unlocked():
        c[section][key] = value
    with pytest.raises(config_lib.ConfigError, match=message):
        experiments.validate(c)


def test_nyu_full_set_path_is_checked(tmp_path):
    from hg_jax.experiments.nyu import setup as nyu

    c = load_config("nyu", "small")
    c.data.source = "nyu"
    c.data.nyu_mat = str(tmp_path / "nyu_depth_v2_labeled.mat")
    with pytest.raises(config_lib.ConfigError, match="config.data.nyu_mat"):
        nyu.validate(c)


def test_cosine_beta_schedule_decays_each_update_to_zero():
    """beta_opt.schedule = cosine: β's steps start at about lr (bias-corrected RMSprop) and shrink to
    ~0 by the row's last update; constant keeps them at about lr."""
    import numpy as np
    import jax.numpy as jnp

    from hg_jax.core.loop import make_beta_optimizer

    c = _toy().beta_opt
    c.learning_rate, c.bias_correction = 0.1, True
    steps = {}
    for schedule in ("cosine", "constant"):
        c.schedule = schedule
        opt = make_beta_optimizer(c, updates=10)
        state, sizes = opt.init(jnp.zeros(3)), []
        for _ in range(10):
            u, state = opt.update(jnp.ones(3), state)
            sizes.append(float(jnp.abs(u).max()))
        steps[schedule] = np.array(sizes)
    assert steps["cosine"][0] == pytest.approx(0.1, rel=1e-3)
    assert np.all(np.diff(steps["cosine"]) < 0) and steps["cosine"][-1] < 0.01
    np.testing.assert_allclose(steps["constant"], 0.1, rtol=1e-3)


def test_shared_beta_scale_moves_zero_derivative_coordinates_by_their_share():
    """beta_opt.scale = shared: one second moment for all of β. A coordinate with a ~0 estimate
    moves by its share of the step, where per-coordinate RMSprop moves it ~lr like the others;
    both are invariant to the loss's scale, and the first bias-corrected shared step is
    −lr·g / rms(g) exactly."""
    import numpy as np
    import jax.numpy as jnp

    from hg_jax.core.loop import make_beta_optimizer

    g = jnp.array([1.0, -0.5, 1e-2, -1e-2])
    c = _toy().beta_opt
    c.learning_rate, c.bias_correction, c.schedule, c.momentum = 0.1, True, "constant", 0.0
    first = {}
    for scale in ("coordinate", "shared"):
        c.scale = scale
        opt = make_beta_optimizer(c, updates=5)
        for factor in (1.0, 100.0):
            u, _ = opt.update(factor * g, opt.init(jnp.zeros(4)))
            first[scale, factor] = np.asarray(u)
        np.testing.assert_allclose(first[scale, 1.0], first[scale, 100.0], rtol=1e-4)
    np.testing.assert_allclose(np.abs(first["coordinate", 1.0]), 0.1, rtol=1e-3)
    rms = float(jnp.sqrt(jnp.mean(g * g)))
    np.testing.assert_allclose(first["shared", 1.0], -0.1 * np.asarray(g) / rms, rtol=1e-4)
    assert np.abs(first["shared", 1.0][2:]).max() < 1e-2 * 0.1 / rms * 1.01

    c.scale, c.momentum = "shared", 0.5          # momentum composes with the shared scale
    opt = make_beta_optimizer(c, updates=5)
    state, moves = opt.init(jnp.zeros(4)), []
    for _ in range(3):
        u, state = opt.update(g, state)
        moves.append(np.asarray(u))
    assert np.all(np.abs(moves[2]) > np.abs(moves[0]))
