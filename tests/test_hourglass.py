"""Stacked Hourglass: shapes, intermediate outputs, pure params, exact pooling/upsampling, learns."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from hg_jax.models.hourglass import make_model, max_pool2, upsample2


@pytest.mark.parametrize("stacks,depth,out,norm", [(1, 2, 3, "group"), (2, 2, 1, "none"), (3, 1, 4, "group")])
def test_shapes_and_intermediate_outputs(stacks, depth, out, norm):
    init, apply = make_model(stacks, depth, 8, in_channels=2, out_channels=out, norm=norm)
    params = init(jax.random.PRNGKey(0), (1, 16, 16, 2))
    assert "batch_stats" not in params and all("batch_stats" not in k for k in params)
    outs = apply(params, jnp.ones((3, 16, 16, 2)))
    assert len(outs) == stacks and all(o.shape == (3, 16, 16, out) for o in outs)


def test_pool_and_upsample_equal_the_library_ops():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 8, 6, 3)))
    np.testing.assert_array_equal(max_pool2(x), nn.max_pool(x, (2, 2), strides=(2, 2)))
    np.testing.assert_array_equal(upsample2(x), jax.image.resize(x, (2, 16, 12, 3), "nearest"))


def test_bad_input_size_and_options():
    init, _ = make_model(1, 3, 8)
    with pytest.raises(ValueError, match="divisible by 2\\^\\(depth\\+1\\) = 16"):
        init(jax.random.PRNGKey(0), (1, 24, 24, 1))
    with pytest.raises(ValueError, match="model.norm"):
        make_model(norm="batch")
    with pytest.raises(ValueError, match="expects 1"):
        init(jax.random.PRNGKey(0), (1, 16, 16, 3))


def test_relu_head_and_sgd_reduces_loss():
    init, apply = make_model(2, 2, 8, in_channels=1, out_channels=1, final_activation="relu")
    params = init(jax.random.PRNGKey(1), (1, 16, 16, 1))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(size=(4, 16, 16, 1)), jnp.float32)
    y = 2.0 * x + 0.5
    assert all(float(o.min()) >= 0 for o in apply(params, x))
    loss = lambda p: sum(jnp.mean((o - y) ** 2) for o in apply(p, x))  # noqa: E731
    opt = optax.adam(1e-2)
    s = opt.init(params)
    l0 = float(loss(params))
    step = jax.jit(lambda p, s: (lambda l, g: (l, *opt.update(g, s, p)))(*jax.value_and_grad(loss)(p)))
    for _ in range(60):
        l, u, s = step(params, s)
        params = optax.apply_updates(params, u)
    assert float(loss(params)) < 0.3 * l0
    assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(jax.grad(loss)(params)))
