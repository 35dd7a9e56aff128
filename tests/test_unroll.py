"""∂L/∂X through the unrolled training, checked independent ways (float64)."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from hg_jax.core import unroll
from hg_jax.models.convnet import make_convnet
from hg_jax.tasks.regression import RegressionTask

K, B, S = 3, 2, 6


def _problem(seed=0, dtype=jnp.float64):
    init, apply = make_convnet((4,), 1, 1)
    task = RegressionTask()
    rng = np.random.default_rng(seed)
    X = {"image": rng.normal(size=(K, B, S, S, 1)), "target": rng.normal(size=(K, B, S, S, 1)),
         "mask": (rng.uniform(size=(K, B, S, S, 1)) > 0.3).astype(np.float64)}
    val = {"image": rng.normal(size=(3, S, S, 1)), "target": rng.normal(size=(3, S, S, 1)),
           "mask": np.ones((3, S, S, 1))}
    X = jax.tree_util.tree_map(jnp.asarray, X)
    val = jax.tree_util.tree_map(jnp.asarray, val)
    params = init(jax.random.PRNGKey(seed), (1, S, S, 1))
    params = jax.tree_util.tree_map(lambda p: p.astype(dtype), params)
    return task, apply, params, X, val


@pytest.mark.parametrize("opt_name", ["sgd", "momentum"])
def test_meta_gradient_matches_finite_differences_loop_and_remat(x64, opt_name):
    task, apply, params, X, val = _problem()
    opt = optax.sgd(0.3) if opt_name == "sgd" else optax.sgd(0.3, momentum=0.9)
    tl, vl = unroll.make_train_loss(apply, task), unroll.make_val_loss(apply, task)
    s0 = opt.init(params)
    grads = {}
    for name, kw in {"scan": {}, "remat": {"remat": True}, "loop": {"loop": unroll.train_python_loop}}.items():
        L, dX, *_ = unroll.make_meta_grad(train_loss=tl, val_loss=vl, optimizer=opt, **kw)(params, s0, X, val)
        grads[name] = dX
    # Forward mode as a fourth, independent route, along a random direction of the images.
    def meta(Xi):
        p, _, _ = unroll.train(params, s0, {**X, "image": Xi}, loss_fn=tl, optimizer=opt)
        return vl(p, val)
    v = jnp.asarray(np.random.default_rng(1).normal(size=X["image"].shape))
    _, jvp = jax.jvp(meta, (X["image"],), (v,))
    assert np.isclose(float(jnp.vdot(grads["scan"]["image"], v)), float(jvp), rtol=1e-8)

    for key in ("image", "target", "mask"):
        for other in ("remat", "loop"):
            np.testing.assert_allclose(grads["scan"][key], grads[other][key], rtol=1e-9, atol=1e-12)
        assert np.abs(np.asarray(grads["scan"][key])).max() > 0, key

    # central differences on a few coordinates of every training batch, image and label
    rng = np.random.default_rng(2)
    eps = 1e-5
    def loss_at(Xd):
        p, _, _ = unroll.train(params, s0, Xd, loss_fn=tl, optimizer=opt)
        return float(vl(p, val))
    for key in ("image", "target"):
        for _ in range(4):
            idx = tuple(int(rng.integers(n)) for n in X[key].shape)
            e = jnp.zeros_like(X[key]).at[idx].set(eps)
            fd = (loss_at({**X, key: X[key] + e}) - loss_at({**X, key: X[key] - e})) / (2 * eps)
            assert np.isclose(fd, float(grads["scan"][key][idx]), rtol=1e-5, atol=1e-9), (key, idx)
    # every one of the K batches influences L
    assert all(np.abs(np.asarray(grads["scan"]["image"][k])).sum() > 0 for k in range(K))


def test_train_returns_carry_and_losses():
    task, apply, params, X, val = _problem(dtype=jnp.float32)
    X = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), X)
    opt = optax.adam(1e-2)
    p, s, losses = unroll.train(params, opt.init(params), X, loss_fn=unroll.make_train_loss(apply, task),
                                optimizer=opt)
    assert losses.shape == (K,)
    assert int(s[0].count) == K   # the optimizer state was carried through the scan
    assert not np.allclose(jax.tree_util.tree_leaves(p)[0], jax.tree_util.tree_leaves(params)[0])


def test_hourglass_adam_meta_gradient_is_finite_and_matches_finite_differences(x64):
    """The experiments' path: the default (im2col) Stacked Hourglass + the experiments' Adam, through
    lax.scan. With plain optax.adam, parameters whose gradient is exactly 0 (ν = 0 under sqrt) made
    ∂L/∂X NaN in every hourglass run; eps_root in make_inner_optimizer keeps it finite and exact.
    (test_hourglass.py checks the im2col network against one built from flax layers.)"""
    import ml_collections

    from hg_jax.core.trainer import make_inner_optimizer
    from hg_jax.models.hourglass import make_model
    from hg_jax.tasks.normals import NormalsTask

    init, apply = make_model(1, 1, 4, in_channels=1, out_channels=3)
    params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64),
                                    init(jax.random.PRNGKey(0), (1, 8, 8, 1)))
    opt = make_inner_optimizer(ml_collections.ConfigDict(
        {"optimizer": "adam", "learning_rate": 1e-2}))
    task = NormalsTask()
    rng = np.random.default_rng(0)
    n = rng.normal(size=(2, 1, 8, 8, 3))
    X = {"image": jnp.asarray(rng.uniform(size=(2, 1, 8, 8, 1))),
         "target": jnp.asarray(n / np.linalg.norm(n, axis=-1, keepdims=True)),
         "mask": jnp.ones((2, 1, 8, 8, 1))}
    nv = rng.normal(size=(2, 8, 8, 3))
    val = {"image": jnp.asarray(rng.uniform(size=(2, 8, 8, 1))),
           "target": jnp.asarray(nv / np.linalg.norm(nv, axis=-1, keepdims=True)), "mask": jnp.ones((2, 8, 8, 1))}
    tl, vl = unroll.make_train_loss(apply, task), unroll.make_val_loss(apply, task)
    s0 = opt.init(params)
    L, dX, *_ = unroll.make_meta_grad(train_loss=tl, val_loss=vl, optimizer=opt)(params, s0, X, val)
    for k in ("image", "target", "mask"):
        assert bool(jnp.all(jnp.isfinite(dX[k]))), k

    def loss_at(Xp):
        p, _, _ = unroll.train(params, s0, Xp, loss_fn=tl, optimizer=opt)
        return vl(p, val)

    loss_at = jax.jit(loss_at)
    eps = 1e-6
    for key in ("image", "target"):
        for _ in range(3):
            idx = tuple(int(rng.integers(s)) for s in X[key].shape)
            e = jnp.zeros_like(X[key]).at[idx].set(eps)
            fd = (loss_at({**X, key: X[key] + e}) - loss_at({**X, key: X[key] - e})) / (2 * eps)
            assert np.isclose(fd, float(dX[key][idx]), rtol=1e-4, atol=1e-8), (key, idx, fd, dX[key][idx])
