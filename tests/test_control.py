"""Controlled experiments on the real renderer: β* recipe, disjoint seeds, what beta_error measures."""
import numpy as np
import pytest

from hg_jax import experiments
from hg_jax.experiments.control import setup as control
from tests.conftest import load_config


@pytest.fixture(scope="module")
def csg_setup():
    return experiments.build(load_config("csg_control", "small"))


def test_csg_beta_star_differs_from_beta0_only_where_documented(csg_setup):
    s = csg_setup
    schema = s.sampler.schema
    v0, vs = schema.constrained(s.beta0), schema.constrained(s.beta_star)
    np.testing.assert_allclose(vs["primitive_w"], [0.7, 0.1, 0.1, 0.1], atol=1e-12)
    np.testing.assert_allclose(vs["p_expand"], [0.3], atol=1e-12)
    for name in schema.names:
        if name not in ("primitive_w", "p_expand"):
            np.testing.assert_allclose(vs[name], v0[name], atol=1e-12, err_msg=name)
    assert s.beta_error(s.beta_star) == pytest.approx(0.0, abs=1e-12)
    assert s.beta_error(s.beta0) == pytest.approx(np.sqrt(0.45 ** 2 + 3 * 0.15 ** 2 + 0.3 ** 2))


def test_csg_beta_error_ignores_what_the_loss_cannot_identify(csg_setup):
    s = csg_setup
    beta = s.beta_star.copy()
    beta[s.sampler.schema.slices()["sphere_radius_mu"]] += 1.0      # framing removes absolute size
    assert s.beta_error(beta) == pytest.approx(0.0, abs=1e-12)


def test_val_and_test_are_renders_at_beta_star_with_disjoint_seeds(csg_setup):
    s = csg_setup
    n = s.val["image"].shape[0]
    np.testing.assert_array_equal(s.val["image"][0], s.sampler(s.beta_star, control.VAL_SEED0)["image"])
    np.testing.assert_array_equal(s.tests["beta_star_test"]["image"][1],
                                  s.sampler(s.beta_star, control.TEST_SEED0 + 1)["image"])
    assert control.VAL_SEED0 + n <= control.TEST_SEED0
    assert control.VAL_SEED0 >= np.iinfo(np.int32).max     # above every training seed
    assert not np.array_equal(s.val["image"], s.tests["beta_star_test"]["image"])


def test_nyu_beta_star_turns_the_camera():
    c = load_config("nyu_control", "small")
    s = experiments.build(c)
    assert s.beta_error(s.beta0) == pytest.approx(np.hypot(10.0, 8.0))
    assert s.beta_error(s.beta_star) == pytest.approx(0.0, abs=1e-9)
    diff = np.nonzero(~np.isclose(s.beta0, s.beta_star))[0]
    sl = s.sampler.schema.slices()["cam_rot_mu"]
    assert set(diff) <= set(range(sl.start, sl.stop))
    assert s.val["image"].shape == (8, 32, 32, 3)


def test_control_config_errors_name_the_field():
    from hg_jax.config import ConfigError

    c = load_config("csg_control", "small")
    with c.unlocked():
        c.data.val_count = 0
    with pytest.raises(ConfigError, match="config.data.val_count"):
        experiments.validate(c)


@pytest.mark.slow
def test_small_csg_control_run_reports_beta_error_and_best_snapshot(tmp_path):
    from hg_jax.experiment import run

    c = load_config("csg_control", "small")
    report = run(c, str(tmp_path / "run"))
    row = report["rows"]["hybrid"]
    assert row["beta_error"]["start"] == pytest.approx(np.sqrt(0.45 ** 2 + 3 * 0.15 ** 2 + 0.3 ** 2))
    assert row["beta_error"]["end"] != row["beta_error"]["start"]      # β moved
    assert row["skipped_updates"] == 0
    test = row["test"]["beta_star_test"]
    assert {"loss", "mean_angle", "mse"} <= set(test) and np.isfinite(test["loss"])
    assert 1 <= row["best"]["step"] <= c.outer_steps
    assert row["best"]["val_loss"] <= row["val_loss"] + 1e-9
