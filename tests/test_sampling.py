"""The shared sampling numerics (generators/sampling.py): every inverse CDF is right and continuous in
its parameters, which common random numbers rely on; discrete ones change only at thresholds."""
import numpy as np
import pytest
from scipy import stats

from hg_jax.generators import sampling

U = np.random.default_rng(0).uniform(size=4000)


def test_categorical_frequencies_and_thresholds():
    p = np.array([0.2, 0.5, 0.3])
    k = sampling.categorical_ppf(U, p)
    np.testing.assert_allclose(np.bincount(k, minlength=3) / len(U), p, atol=0.03)
    # unnormalised weights give the same categories
    np.testing.assert_array_equal(sampling.categorical_ppf(U, 7 * p), k)
    # a small change of the weights changes a category only where a cumulative boundary moved past u
    q = p + np.array([1e-3, -2e-3, 1e-3])
    k2 = sampling.categorical_ppf(U, q)
    changed = k != k2
    cdf_p, cdf_q = np.cumsum(p), np.cumsum(q)
    near = np.zeros(len(U), bool)
    for a, b in zip(cdf_p[:-1], cdf_q[:-1]):
        near |= (U >= min(a, b)) & (U <= max(a, b))
    assert changed.any() and np.all(near[changed])


def test_zero_truncated_poisson_changes_only_at_thresholds():
    rate = 4.0
    n = sampling.zero_truncated_poisson_ppf(U, rate, cap=50)
    n2 = sampling.zero_truncated_poisson_ppf(U, rate * (1 + 1e-4), cap=50)
    assert np.all(n >= 1) and np.mean(n != n2) < 1e-3 and np.all(np.abs(n - n2) <= 1)


@pytest.mark.parametrize("kappa", [1e-3, 0.5, 5.0, 49.0, 51.0, 1e3, 1e6])
def test_vonmises_ppf_matches_its_exact_cdf(kappa):
    u = np.linspace(1e-4, 1 - 1e-4, 101)
    x = sampling.vonmises_ppf(u, kappa)
    assert np.all(np.diff(x) > 0) and np.all(np.abs(x) < np.pi)
    np.testing.assert_allclose(sampling.vonmises_cdf(x, kappa), u, atol=1e-12)


def test_vonmises_ppf_agrees_with_scipy_where_scipy_is_exact():
    """scipy's von Mises CDF is a series below κ = 50 and a normal approximation above it, so the
    comparison to 1e-10 holds below 50; above, the exact CDF is checked against quadrature in
    tests/test_perturb.py."""
    u = np.random.default_rng(0).uniform(size=50)
    k = np.exp(np.random.default_rng(1).uniform(-3, np.log(49.0), 50))
    x = sampling.vonmises_ppf(u, k)
    np.testing.assert_allclose(stats.vonmises.cdf(x, k), u, atol=1e-10)
    np.testing.assert_allclose(x, stats.vonmises.ppf(u, k), atol=1e-8)


def test_vonmises_ppf_is_continuous_in_kappa_across_the_whole_range():
    """A sweep of κ over 9 decades, through κ = 50 (where scipy's CDF switches formulas): for a fixed
    uniform the angle moves monotonically towards 0 as κ grows, and halving the grid step halves
    the largest step of the angle (Lipschitz in log κ, no jump anywhere)."""
    for u in (0.03, 0.3, 0.55, 0.9, 0.999):
        steps = []
        for n in (2001, 4001):
            kappa = np.exp(np.linspace(np.log(1e-3), np.log(1e6), n))
            x = sampling.vonmises_ppf(np.full(kappa.shape, u), kappa)
            assert np.all(np.diff(np.abs(x)) <= 1e-12)                   # |x| shrinks as κ grows
            steps.append(np.abs(np.diff(x)).max())
        assert steps[0] < 0.03 and steps[1] < 0.6 * steps[0]
        at50 = sampling.vonmises_ppf(u, 50.0 * np.array([1 - 1e-9, 1 + 1e-9]))
        assert abs(at50[1] - at50[0]) < 1e-9
    # and continuous in u at fixed κ
    u = np.linspace(0.01, 0.99, 2001)
    for k in (0.1, 50.0, 1e4):
        assert np.abs(np.diff(sampling.vonmises_ppf(u, k))).max() < 0.05


def test_truncated_normal_ppf_is_right_and_continuous():
    u = np.linspace(0.001, 0.999, 999)
    x = sampling.truncated_normal_ppf(u, 0.3, 0.2, 0.0, 1.0)
    assert np.all((x >= 0) & (x <= 1)) and np.all(np.diff(x) > 0)
    ref = stats.truncnorm(-0.3 / 0.2, 0.7 / 0.2, loc=0.3, scale=0.2)
    np.testing.assert_allclose(ref.cdf(x), u, atol=1e-9)
    for dmu, dsd in ((1e-6, 0.0), (0.0, 1e-6)):
        x2 = sampling.truncated_normal_ppf(u, 0.3 + dmu, 0.2 + dsd, 0.0, 1.0)
        assert np.abs(x2 - x).max() < 1e-5


def test_truncated_mixture_ppf_components_values_and_continuity():
    w, mu, sd = np.array([0.25, 0.75]), np.array([0.2, 0.7]), np.array([0.05, 0.1])
    uc = np.random.default_rng(1).uniform(size=len(U))
    x, k = sampling.truncated_mixture_ppf(uc, U, w, mu, sd, 0.0, 1.0)
    assert np.all((x >= 0) & (x <= 1))
    assert abs(np.mean(k == 0) - 0.25) < 0.03
    for j in (0, 1):
        assert abs(np.mean(x[k == j]) - mu[j]) < 0.01
    # means and spreads move values continuously; components stay where they were
    x2, k2 = sampling.truncated_mixture_ppf(uc, U, w, mu + 1e-6, sd * (1 + 1e-6), 0.0, 1.0)
    np.testing.assert_array_equal(k, k2)
    assert np.abs(x2 - x).max() < 1e-5


def test_yaw_pitch_roll_conventions():
    r = sampling.yaw_pitch_roll(0.3, -0.2, 0.1)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(r), 1.0)
    fwd = np.array([0.0, 0.0, -1.0])                       # OpenGL camera's viewing direction
    assert (sampling.yaw_pitch_roll(0.0, -0.3, 0.0) @ fwd)[1] < 0       # pitch < 0 looks down
    assert (sampling.yaw_pitch_roll(0.3, 0.0, 0.0) @ fwd)[0] < 0        # yaw > 0 turns left (to -X)
    np.testing.assert_allclose(sampling.yaw_pitch_roll(0.0, 0.0, 0.4), sampling.rot_z(0.4))


def test_random_lights_count_and_cone():
    u = np.random.default_rng(3).uniform(size=(3, 3))
    lights = sampling.random_lights(u, 1, 3, 30.0, 3.0)
    assert 1 <= len(lights) <= 3
    assert np.isclose(sum(l.intensity for l in lights), 3.0)
    for l in lights:
        assert -np.asarray(l.direction)[2] >= np.cos(np.radians(30.0)) - 1e-12
