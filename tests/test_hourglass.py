"""Stacked Hourglass: shapes, intermediate outputs, pure params, every fast op equal to its
reference, the whole network equal to one built from flax's standard layers, and it learns."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from hg_jax.models import hourglass as hg

RTOL, ATOL = 2e-4, 2e-5


def rand(shape, seed=0, scale=1.0, shift=0.0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape) * scale + shift, jnp.float32)


def assert_trees_close(a, b, rtol=RTOL, atol=ATOL):
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


# --- the reference: the same network written with flax's standard layers -------------------------
# Class names equal the fast model's so that flax names the parameters identically.

class Conv(nn.Module):
    features: int
    size: int = 1
    stride: int = 1

    @nn.compact
    def __call__(self, x):
        k = self.param("kernel", nn.initializers.lecun_normal(),
                       (x.shape[-1], self.features) if self.size == 1 else
                       (self.size, self.size, x.shape[-1], self.features))
        b = self.param("bias", nn.initializers.zeros, (self.features,))
        layer = nn.Conv(self.features, (self.size, self.size), strides=self.stride, padding="SAME")
        return layer.apply({"params": {"kernel": k.reshape((self.size, self.size) + k.shape[-2:]), "bias": b}}, x)


class NormRelu(nn.Module):
    norm: str
    num_groups: int

    @nn.compact
    def __call__(self, x):
        if self.norm == "group":
            c = x.shape[-1]
            p = {"scale": self.param("scale", nn.initializers.ones, (c,)),
                 "bias": self.param("bias", nn.initializers.zeros, (c,))}
            x = nn.GroupNorm(num_groups=hg.groups_for(self.num_groups, c)).apply({"params": p}, x)
        return nn.relu(x)


class Residual(nn.Module):
    channels: int
    norm: str
    num_groups: int
    block: str

    @nn.compact
    def __call__(self, x):
        nr = lambda: NormRelu(self.norm, self.num_groups)  # noqa: E731
        if self.block == "bottleneck":
            half = max(self.channels // 2, 1)
            y = Conv(half)(nr()(x))
            y = Conv(half, 3)(nr()(y))
            y = Conv(self.channels)(nr()(y))
        else:
            y = Conv(self.channels, 3)(nr()(x))
            y = Conv(self.channels, 3)(nr()(y))
        return (x if x.shape[-1] == self.channels else Conv(self.channels)(x)) + y


class Hourglass(nn.Module):
    depth: int
    channels: int
    norm: str
    num_groups: int
    block: str

    @nn.compact
    def __call__(self, x):
        res = lambda: Residual(self.channels, self.norm, self.num_groups, self.block)  # noqa: E731
        up = res()(x)
        low = res()(nn.max_pool(x, (2, 2), strides=(2, 2)))
        low = (Hourglass(self.depth - 1, self.channels, self.norm, self.num_groups, self.block)(low)
               if self.depth > 1 else res()(low))
        low = res()(low)
        b, h, w, c = low.shape
        return up + jax.image.resize(low, (b, 2 * h, 2 * w, c), "nearest")


class Reference(nn.Module):
    num_stacks: int
    depth: int
    channels: int
    out_channels: int
    norm: str
    num_groups: int
    block: str
    final_activation: str

    @nn.compact
    def __call__(self, images):
        b, h, w, _ = images.shape
        res = lambda: Residual(self.channels, self.norm, self.num_groups, self.block)  # noqa: E731
        x = res()(Conv(self.channels, 3, 2)(images))
        outs = []
        for s in range(self.num_stacks):
            y = res()(Hourglass(self.depth, self.channels, self.norm, self.num_groups, self.block)(x))
            y = NormRelu(self.norm, self.num_groups)(Conv(self.channels)(y))
            pred = Conv(self.out_channels)(y)
            full = jax.image.resize(pred, (b, h, w, self.out_channels), "bilinear")
            outs.append(nn.relu(full) if self.final_activation == "relu" else full)
            if s < self.num_stacks - 1:
                x = x + Conv(self.channels)(y) + Conv(self.channels)(pred)
        return tuple(outs)


def random_params(params, seed=1):
    """The same tree with random values everywhere (init has zero biases and unit GN scales,
    which would hide a wrong bias fold or a wrong scale)."""
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    new = [leaf + 0.3 * jax.random.normal(k, leaf.shape) for k, leaf in zip(keys, leaves)]
    return jax.tree_util.tree_unflatten(tree, new)


# --- tests ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("stacks,depth,ch,out,norm,block,act", [
    (1, 2, 8, 3, "group", "bottleneck", "none"),
    (3, 1, 8, 4, "none", "basic", "relu"),
    (2, 1, 12, 2, "group", "bottleneck", "relu"),  # 12 and 6 channels: 6 groups, not 8
])
def test_shapes_intermediate_outputs_and_pure_params(stacks, depth, ch, out, norm, block, act):
    init, apply = hg.make_model(stacks, depth, ch, in_channels=2, out_channels=out, norm=norm,
                                block=block, final_activation=act)
    params = init(jax.random.PRNGKey(0), (1, 16, 16, 2))
    assert set(params) and not any("batch_stats" in str(path) for path, _ in
                                   jax.tree_util.tree_flatten_with_path(params)[0])
    assert all(isinstance(leaf, jax.Array) and leaf.dtype == jnp.float32
               for leaf in jax.tree_util.tree_leaves(params))
    outs = jax.jit(apply)(random_params(params), rand((3, 16, 16, 2)))
    assert isinstance(outs, tuple) and len(outs) == stacks
    assert all(o.shape == (3, 16, 16, out) for o in outs)
    # intermediate predictions are distinct outputs, not copies of the final one
    if stacks > 1:
        assert not np.allclose(outs[0], outs[-1])
    if act == "relu":
        assert all(float(o.min()) >= 0.0 for o in outs)


def test_module_has_only_params_collection():
    module = hg.StackedHourglass(1, 1, 8, 1)
    variables = jax.eval_shape(module.init, jax.random.PRNGKey(0), jnp.zeros((1, 16, 16, 1)))
    assert set(variables) == {"params"}


@pytest.mark.parametrize("shape", [(2, 8, 6, 3), (1, 4, 4, 5)])
def test_pool_and_upsampling_equal_the_library_ops(shape):
    x = rand(shape)
    b, h, w, c = shape
    np.testing.assert_array_equal(hg.max_pool2(x), nn.max_pool(x, (2, 2), strides=(2, 2)))
    np.testing.assert_array_equal(hg.upsample2(x), jax.image.resize(x, (b, 2 * h, 2 * w, c), "nearest"))
    np.testing.assert_allclose(hg.upsample2_bilinear(x), jax.image.resize(x, (b, 2 * h, 2 * w, c), "bilinear"),
                               rtol=1e-6, atol=1e-6)
    g = rand((b, h // 2, w // 2, c), seed=3)
    ours = jax.vjp(hg.max_pool2, x)[1](g)[0]
    theirs = jax.vjp(lambda x: nn.max_pool(x, (2, 2), strides=(2, 2)), x)[1](g)[0]
    np.testing.assert_array_equal(ours, theirs)  # no ties in random data: one max per window


def test_bilinear_upsampling_of_a_single_row_and_column():
    x = rand((1, 1, 1, 2))
    np.testing.assert_allclose(hg.upsample2_bilinear(x), jax.image.resize(x, (1, 2, 2, 2), "bilinear"), rtol=1e-6)


@pytest.mark.parametrize("c,groups,with_shift", [(8, 4, False), (8, 4, True), (12, 6, True), (6, 6, True),
                                                  (4, 1, True)])
def test_group_norm_equals_flax(c, groups, with_shift):
    x = rand((3, 5, 4, c), seed=1, scale=2.0, shift=0.7)
    scale, bias = rand((c,), seed=2), rand((c,), seed=3)
    shift = rand((c,), seed=4) if with_shift else None

    def ref(x, scale, bias, shift):
        z = x if shift is None else x + shift
        return nn.GroupNorm(num_groups=groups).apply({"params": {"scale": scale, "bias": bias}}, z)

    def ours(x, scale, bias, shift):
        return hg.group_norm(x, scale, bias, groups, shift)

    np.testing.assert_allclose(ours(x, scale, bias, shift), ref(x, scale, bias, shift), rtol=RTOL, atol=ATOL)
    g = rand(x.shape, seed=5)
    args = (x, scale, bias, shift)
    assert_trees_close(jax.vjp(ours, *args)[1](g), jax.vjp(ref, *args)[1](g), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("shape,size,stride", [((2, 6, 8, 3), 3, 1), ((2, 8, 8, 1), 3, 2), ((1, 7, 5, 2), 3, 2),
                                               ((1, 4, 4, 2), 1, 1)])
def test_im2col_conv_equals_lax_conv(shape, size, stride):
    x, k = rand(shape, seed=1), rand((size, size, shape[-1], 4), seed=2)

    def ref(x, k):
        return jax.lax.conv_general_dilated(x, k, (stride, stride), "SAME",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    ours = lambda x, k: hg.conv(x, k, stride, "im2col")  # noqa: E731
    y = ref(x, k)
    np.testing.assert_allclose(ours(x, k), y, rtol=RTOL, atol=ATOL)
    g = rand(y.shape, seed=3)
    assert_trees_close(jax.vjp(ours, x, k)[1](g), jax.vjp(ref, x, k)[1](g))


def test_im2col_conv_in_a_loop_has_no_convolution_left():
    """The point of im2col: inside lax.scan, neither it nor its derivatives is an XLA convolution
    (XLA:CPU runs those unoptimised in loop bodies)."""
    k = rand((3, 3, 4, 4), seed=2)

    def body(x, _):
        return x + 0.1 * jax.grad(lambda x: jnp.sum(hg.conv(x, k) ** 2))(x), None

    hlo = jax.jit(lambda x: jax.lax.scan(body, x, None, length=2)[0]).lower(rand((1, 8, 8, 4))).compile().as_text()
    assert " while(" in hlo and "convolution(" not in hlo


@pytest.mark.parametrize("cin,cout", [(8, 4), (4, 8), (6, 6), (8, 3)])
def test_pointwise_equals_a_1x1_conv(cin, cout):
    x, k = rand((2, 4, 6, cin), seed=1), rand((cin, cout), seed=2)

    def ref(x, k):
        return jax.lax.conv_general_dilated(x, k[None, None], (1, 1), "SAME",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    np.testing.assert_allclose(hg.pointwise(x, k), ref(x, k), rtol=RTOL, atol=ATOL)
    g = rand((2, 4, 6, cout), seed=3)
    assert_trees_close(jax.vjp(hg.pointwise, x, k)[1](g), jax.vjp(ref, x, k)[1](g))


@pytest.mark.parametrize("stacks,depth,norm,block,act,conv", [
    (2, 1, "group", "bottleneck", "none", "im2col"),  # re-injection between stacks
    (1, 2, "none", "basic", "relu", "im2col"),  # a nested hourglass
    (1, 1, "group", "bottleneck", "none", "xla"),
])
def test_network_equals_reference_built_from_flax_layers(stacks, depth, norm, block, act, conv):
    init, apply = hg.make_model(stacks, depth, 8, in_channels=1, out_channels=3, norm=norm, num_groups=4,
                                block=block, final_activation=act, conv=conv)
    params = random_params(init(jax.random.PRNGKey(0), (1, 16, 16, 1)))
    ref = Reference(stacks, depth, 8, 3, norm, 4, block, act)
    ref_params = ref.init(jax.random.PRNGKey(0), jnp.zeros((1, 16, 16, 1)))["params"]
    assert jax.tree_util.tree_structure(ref_params) == jax.tree_util.tree_structure(params)
    assert [p.shape for p in jax.tree_util.tree_leaves(ref_params)] == \
        [p.shape for p in jax.tree_util.tree_leaves(params)]

    x, y = rand((2, 16, 16, 1), seed=7), rand((2, 16, 16, 3), seed=8)
    ref_apply = lambda p, x: ref.apply({"params": p}, x)  # noqa: E731

    def outputs_and_grads(fn):
        loss = lambda p, x: sum(jnp.mean((o - y) ** 2) for o in fn(p, x))  # noqa: E731
        return jax.jit(lambda p, x: (fn(p, x), jax.grad(loss, argnums=(0, 1))(p, x)))(params, x)

    (outs, grads), (ref_outs, ref_grads) = outputs_and_grads(apply), outputs_and_grads(ref_apply)
    assert_trees_close(outs, ref_outs)
    assert_trees_close(grads, ref_grads, rtol=2e-3, atol=2e-5)


def scanned_layout(p, stacks):
    """The unrolled network's parameters in ``scan_stacks`` layout (a leading stack axis). The last
    stack has no re-injection convs there; the scan computes them and discards the result, so any
    values do: the first stack's are used."""
    per = []
    for s in range(stacks):
        d = {"Hourglass_0": p[f"Hourglass_{s}"], "Residual_0": p[f"Residual_{s + 1}"],
             "Conv_0": p[f"Conv_{1 + 4 * s}"], "Conv_1": p[f"Conv_{2 + 4 * s}"]}
        if f"NormRelu_{s}" in p:
            d["NormRelu_0"] = p[f"NormRelu_{s}"]
        last = s == stacks - 1
        d["Conv_2"], d["Conv_3"] = (p["Conv_3"], p["Conv_4"]) if last else (p[f"Conv_{3 + 4 * s}"], p[f"Conv_{4 + 4 * s}"])
        per.append(d)
    return {"Conv_0": p["Conv_0"], "Residual_0": p["Residual_0"],
            "ScanStack_0": jax.tree_util.tree_map(lambda *a: jnp.stack(a), *per)}


@pytest.mark.parametrize("stacks,norm,act", [(2, "group", "none"), (3, "none", "relu")])
def test_scanned_stacks_compute_the_unrolled_network(stacks, norm, act):
    """scan_stacks: same outputs and parameter gradients as the unrolled stacks, a smaller program."""
    kw = dict(in_channels=1, out_channels=3, norm=norm, num_groups=4, final_activation=act)
    init, apply = hg.make_model(stacks, 1, 8, **kw)
    s_init, s_apply = hg.make_model(stacks, 1, 8, scan_stacks=True, **kw)
    params = random_params(init(jax.random.PRNGKey(0), (1, 16, 16, 1)))
    mapped = scanned_layout(params, stacks)
    fresh = s_init(jax.random.PRNGKey(0), (1, 16, 16, 1))
    assert jax.tree_util.tree_structure(fresh) == jax.tree_util.tree_structure(mapped)
    assert [p.shape for p in jax.tree_util.tree_leaves(fresh)] == [p.shape for p in jax.tree_util.tree_leaves(mapped)]

    x, y = rand((2, 16, 16, 1), seed=7), rand((2, 16, 16, 3), seed=8)

    def lowered(fn, p):
        loss = lambda p: sum(jnp.mean((o - y) ** 2) for o in fn(p, x))  # noqa: E731
        return jax.jit(lambda p: (fn(p, x), jax.grad(loss)(p))).lower(p)

    low, s_low = lowered(apply, params), lowered(s_apply, mapped)
    (outs, grads), (s_outs, s_grads) = low.compile()(params), s_low.compile()(mapped)
    assert len(s_outs) == stacks
    assert_trees_close(s_outs, outs)
    want = scanned_layout(grads, stacks)
    last = stacks - 1        # the discarded re-injection of the last stack gets no gradient
    for c in ("Conv_2", "Conv_3"):
        for leaf in ("kernel", "bias"):
            assert not np.any(np.asarray(s_grads["ScanStack_0"][c][leaf][last]))
            want["ScanStack_0"][c][leaf] = want["ScanStack_0"][c][leaf].at[last].set(0.0)
    for g, w in zip(jax.tree_util.tree_leaves(s_grads), jax.tree_util.tree_leaves(want)):
        # float32 sums in another order; without a norm the gradients reach 1e4-1e5
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-3,
                                   atol=max(2e-5, 1e-4 * float(jnp.abs(w).max())))
    if stacks == 3:          # the scan's bookkeeping is a fixed cost: at 1 stack the program grows
        assert s_low.as_text().count("\n") < 0.75 * low.as_text().count("\n")


def test_meta_gradient_through_an_sgd_step_is_finite_both_modes():
    """Reverse-over-reverse (∂L/∂X through a training step) and forward-over-reverse both work."""
    init, apply = hg.make_model(1, 1, 8, in_channels=1, out_channels=3)
    params = init(jax.random.PRNGKey(0), (1, 16, 16, 1))
    y, x_val = rand((2, 16, 16, 3), seed=2), rand((2, 16, 16, 1), seed=3)
    train = lambda p, x: sum(jnp.mean((o - y) ** 2) for o in apply(p, x))  # noqa: E731

    def meta(x):
        p = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, jax.grad(train)(params, x))
        return jnp.mean((apply(p, x_val)[-1] - y) ** 2)

    x, v = rand((2, 16, 16, 1), seed=1), rand((2, 16, 16, 1), seed=4)
    g, tangent = jax.jit(lambda x, v: (jax.grad(meta)(x), jax.jvp(meta, (x,), (v,))[1]))(x, v)
    assert g.shape == x.shape and bool(jnp.all(jnp.isfinite(g))) and float(jnp.abs(g).max()) > 0
    np.testing.assert_allclose(float(tangent), float(jnp.vdot(g, v)), rtol=2e-3)


def test_bad_input_size_and_options():
    init, _ = hg.make_model(1, 3, 8)
    with pytest.raises(ValueError, match=r"divisible by 2\^\(depth\+1\) = 16"):
        init(jax.random.PRNGKey(0), (1, 24, 24, 1))
    with pytest.raises(ValueError, match="expects 1 input channels"):
        init(jax.random.PRNGKey(0), (1, 16, 16, 3))
    with pytest.raises(ValueError, match="model.norm 'batch'"):
        hg.make_model(norm="batch")
    with pytest.raises(ValueError, match="model.block"):
        hg.make_model(block="wide")
    with pytest.raises(ValueError, match="model.final_activation"):
        hg.make_model(final_activation="sigmoid")
    with pytest.raises(ValueError, match="model.conv"):
        hg.make_model(conv="fft")
    with pytest.raises(ValueError, match="model.channels = 0"):
        hg.make_model(channels=0)
    with pytest.raises(ValueError, match="model.scan_stacks = 'yes'"):
        hg.make_model(scan_stacks="yes")


def test_sgd_steps_reduce_the_loss_on_a_fixed_batch():
    init, apply = hg.make_model(2, 1, 8, in_channels=1, out_channels=1, final_activation="relu")
    params = init(jax.random.PRNGKey(1), (1, 16, 16, 1))
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(4, 16, 16, 1)), jnp.float32)
    y = 2.0 * x + 0.5
    loss = lambda p: sum(jnp.mean((o - y) ** 2) for o in apply(p, x))  # noqa: E731
    opt = optax.sgd(0.05, momentum=0.9)

    @jax.jit
    def step(p, s):
        value, g = jax.value_and_grad(loss)(p)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, value

    state, losses = opt.init(params), []
    for _ in range(30):
        params, state, value = step(params, state)
        losses.append(float(value))
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.3 * losses[0]
