"""The hybrid gradient vs the exact gradient of the same end-to-end function (differentiable toy),
through the production path: Hybrid.ask → render pool → Hybrid.tell (Eq. 10 in one file)."""
import jax
import numpy as np
import pytest

from hg_jax.core.estimators import hybrid
from hg_jax.core.estimators.hybrid import Hybrid
from hg_jax.generators.toy import SCHEMA
from tests.toy_problem import cos, make_problem


@pytest.fixture
def problem(x64):
    return make_problem()


def _hybrid(p, m, normalisation="unbiased", sigma=1e-4):
    return Hybrid(Hybrid.Hyper(num_directions=m, sigma=sigma, normalisation=normalisation), p.context())


def test_hybrid_matches_exact_gradient(problem):
    p = problem
    key = jax.random.PRNGKey(7)
    g, request, aux = p.run(_hybrid(p, 400), key)
    exact = p.exact(request.seeds)
    assert np.linalg.norm(exact) > 0
    assert cos(g, exact) >= 0.95
    # unbiased scaling: the magnitude matches too; the paper's normalisation is 1/d of it
    assert 0.75 < np.linalg.norm(g) / np.linalg.norm(exact) < 1.33
    g_paper, _, _ = p.run(_hybrid(p, 400, "paper"), key)
    np.testing.assert_allclose(g_paper * SCHEMA.size, g, rtol=1e-12)
    # the step trained the network on f(β, r): its L is the end-to-end function's value at β (up to
    # the float32 the render bridge stores images in)
    assert aux["val_loss"] == pytest.approx(float(p.end_to_end(p.beta, request.seeds)), rel=1e-6)


def test_hybrid_error_shrinks_with_more_directions(problem):
    p = problem
    errors = {}
    for m in (4, 16, 64):
        errs = []
        for repeat in range(6):
            g, request, _ = p.run(_hybrid(p, m), jax.random.PRNGKey(100 + repeat))
            exact = p.exact(request.seeds)
            errs.append(np.linalg.norm(g - exact) / np.linalg.norm(exact))
        errors[m] = float(np.mean(errs))
    assert errors[4] > errors[16] > errors[64], errors


def test_estimate_is_exact_for_a_linear_generator():
    """X = Aβ: the inner products are exact, so with orthogonal directions the estimate is exact."""
    rng = np.random.default_rng(0)
    d = 5
    A = rng.normal(size=(7, d))
    w = rng.normal(size=7)                       # ∂L/∂X
    deltas = 0.3 * np.linalg.qr(rng.normal(size=(d, d)))[0]
    s = [w @ (A @ dl) - w @ (A @ -dl) for dl in deltas]
    g = hybrid.estimate(np.array(s), deltas, "unbiased")
    np.testing.assert_allclose(g, A.T @ w, rtol=1e-10)
    with pytest.raises(ValueError, match="normalisation"):
        hybrid.estimate(np.array(s), deltas, "nope")
