"""The hybrid gradient vs the exact gradient of the same end-to-end function (differentiable toy)."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from hg_jax import hybrid, unroll
from hg_jax.generators.toy import SCHEMA, ToySampler, toy_batch
from hg_jax.models.convnet import make_convnet
from hg_jax.tasks.regression import RegressionTask

K, B, SIZE = 3, 4, 12


@pytest.fixture
def problem(x64):
    task = RegressionTask()
    init, apply = make_convnet((6,), 1, 1)
    params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64),
                                    init(jax.random.PRNGKey(0), (1, SIZE, SIZE, 1)))
    opt = optax.sgd(0.2)
    s0 = opt.init(params)
    beta_star = ToySampler().default_beta()
    beta = beta_star + np.array([0.6, 0.1, -0.5, 0.2])
    seeds = np.arange(K * B).reshape(K, B)
    val = toy_batch(jnp.asarray(beta_star), jnp.arange(100, 110), size=SIZE)
    tl, vl = unroll.make_train_loss(apply, task), unroll.make_val_loss(apply, task)

    def render(b, sd):
        out = toy_batch(jnp.asarray(b, jnp.float64), jnp.asarray(sd.ravel()), size=SIZE)
        return {k: np.asarray(v).reshape(sd.shape + v.shape[1:]) for k, v in out.items()}

    def end_to_end(b):
        X = toy_batch(b, jnp.asarray(seeds.ravel()), size=SIZE)
        X = jax.tree_util.tree_map(lambda a: a.reshape((K, B) + a.shape[1:]), X)
        p, _, _ = unroll.train(params, s0, X, loss_fn=tl, optimizer=opt)
        return vl(p, val)

    meta = unroll.make_meta_grad(train_loss=tl, val_loss=vl, optimizer=opt)
    _, dX, *_ = meta(params, s0, jax.tree_util.tree_map(jnp.asarray, render(beta, seeds)), val)
    dX = jax.device_get(dX)
    exact = np.asarray(jax.grad(end_to_end)(jnp.asarray(beta)))
    return dict(beta=beta, seeds=seeds, render=render, dX=dX, exact=exact)


def _cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_hybrid_matches_exact_gradient(problem):
    p = problem
    assert np.linalg.norm(p["exact"]) > 0
    deltas = hybrid.directions(np.random.default_rng(0), 400, SCHEMA.size, 1e-4)
    g = hybrid.hybrid_gradient(p["dX"], p["render"], p["beta"], p["seeds"], deltas, "unbiased")
    assert _cos(g, p["exact"]) >= 0.95
    # unbiased scaling: the magnitude matches too; the paper's normalisation is 1/d of it
    assert 0.75 < np.linalg.norm(g) / np.linalg.norm(p["exact"]) < 1.33
    g_paper = hybrid.hybrid_gradient(p["dX"], p["render"], p["beta"], p["seeds"], deltas, "paper")
    np.testing.assert_allclose(g_paper * SCHEMA.size, g, rtol=1e-12)


def test_hybrid_error_shrinks_with_more_directions(problem):
    p = problem
    # the ±renders of many directions at once: reuse per-direction products across m
    errors = {}
    for m in (4, 16, 64):
        errs = []
        for seed in range(6):
            deltas = hybrid.directions(np.random.default_rng(100 + seed), m, SCHEMA.size, 1e-4)
            g = hybrid.hybrid_gradient(p["dX"], p["render"], p["beta"], p["seeds"], deltas, "unbiased")
            errs.append(np.linalg.norm(g - p["exact"]) / np.linalg.norm(p["exact"]))
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
