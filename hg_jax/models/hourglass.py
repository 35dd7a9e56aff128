"""Stacked Hourglass (Newell et al. 2016) in flax, pure (no mutable batch statistics).

Layout: a stride-2 3×3 conv stem and a residual block, then ``num_stacks`` hourglasses of ``depth``
levels at half the input resolution, each followed by a residual block, a 1×1 conv + norm + relu
and a 1×1 prediction head. Predictions are bilinearly upsampled to the input size and every
stack's prediction is returned (intermediate supervision; the last is the final output). Between
stacks the features and the prediction are re-injected through 1×1 convs, as in the paper.

Residual blocks are Newell's pre-activation bottleneck (norm, relu, 1×1 to channels/2, 3×3, 1×1
back) or a "basic" block (two 3×3 at full width). Normalisation is GroupNorm or none: batch
statistics would have to be carried through the unrolled ``lax.scan``.

Written for XLA on CPU, where this small network spent most of its time outside the convolutions
(benchmarks/train_step.py has the numbers). Each op below computes what the textbook op computes;
the tests check every one against its reference and the whole network against one built from
flax's ``nn.Conv``, ``nn.GroupNorm``, ``nn.max_pool`` and ``jax.image.resize``:

- k×k convs are, by default (``conv="im2col"``), matmuls of shifted copies of the image (see
  ``conv``). XLA:CPU rewrites convolutions into the layout its fast kernels need only in a program's entry
  computation (``ConvCanonicalization``), not inside a while loop: there the backward convs
  (flipped kernel, batch-as-feature weight gradient) fall back to a naive loop nest, 10-100×
  slower. The training steps run inside ``lax.scan``, whose meta-gradient adds second-order
  convs of the same kind; matmuls and their derivatives are fast anywhere. Measured, K=4 SGD
  steps in a scan: 155 → 40 ms/step, and their meta-gradient 490 → 145 ms/step. A single jitted
  step outside a loop is faster with ``conv="xla"`` (lax.conv_general_dilated): 33 vs 50 ms.
- 1×1 convs are ``pointwise``: a matmul batched over the images with the kernel broadcast. Its
  weight gradient is then a batched matmul XLA runs in place, where a conv's or a plain dot's
  needs a transposed copy of an activation (and XLA fused that transpose into the expensive
  GroupNorm backward, writing it with strided stores). The kernel is contracted on the side that
  makes that gradient's output rows the narrower dimension: Eigen's batched matmul is 2-6× faster
  so.
- GroupNorm is ``group_norm``: flax's formula (E[x²] − E[x]², eps 1e-6) on per-channel sums, the
  group step on the tiny (B, C) array, then one fused multiply-add. The preceding conv's bias is
  folded into those statistics (mean and E[x²] of x + b follow from those of x), so no pass adds
  it and none reduces its gradient over the image. flax's version reshapes the full activation
  into groups: a step with it took 2.4× a step with no norm, against 1.3× with this one.
- 2×2 max-pooling is two pairwise maxima over a reshape (its gradient is a select; the gradient
  of a reduce-max or of ``nn.max_pool`` costs 2-8× more); nearest 2× upsampling is a broadcast;
  bilinear 2× upsampling of the heads is two fixed 0.75/0.25 blends with edge clamping, equal to
  ``jax.image.resize(..., "bilinear")`` for a factor of exactly 2.

At exact ties inside a pooling window the gradient is split by the pairwise maxima (½ each for
two tied values) where a reduce-max splits it evenly: both are valid subgradients and the forward
values are identical.
"""
from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

NORMS = ("group", "none")
CONVS = ("im2col", "xla")
BLOCKS = ("bottleneck", "basic")
ACTIVATIONS = ("none", "relu")
GN_EPS = 1e-6  # flax.linen.GroupNorm's default


def max_pool2(x):
    """2×2 max-pooling with stride 2 of (B, H, W, C) (= nn.max_pool(x, (2, 2), strides=(2, 2)))."""
    b, h, w, c = x.shape
    y = x.reshape(b, h // 2, 2, w // 2, 2, c)
    m = jnp.maximum(y[:, :, 0], y[:, :, 1])
    return jnp.maximum(m[:, :, :, 0], m[:, :, :, 1])


def upsample2(x):
    """Nearest-neighbour 2× upsampling (= jax.image.resize(x, (B, 2H, 2W, C), "nearest"))."""
    b, h, w, c = x.shape
    return jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c)).reshape(b, 2 * h, 2 * w, c)


def _bilinear2_axis(x, axis: int):
    # output 2i samples input coordinate i − 1/4 and 2i+1 samples i + 1/4 (half-pixel centres);
    # a neighbour outside the image is the edge pixel, as jax.image.resize's renormalised kernel
    n = x.shape[axis]
    part = lambda a, b: jax.lax.slice_in_dim(x, a, b, axis=axis)  # noqa: E731
    prev = jnp.concatenate([part(0, 1), part(0, n - 1)], axis=axis)
    nxt = jnp.concatenate([part(1, n), part(n - 1, n)], axis=axis)
    out = jnp.stack([0.75 * x + 0.25 * prev, 0.75 * x + 0.25 * nxt], axis=axis + 1)
    return out.reshape(x.shape[:axis] + (2 * n,) + x.shape[axis + 1:])


def upsample2_bilinear(x):
    """Bilinear 2× upsampling (= jax.image.resize(x, (B, 2H, 2W, C), "bilinear"))."""
    return _bilinear2_axis(_bilinear2_axis(x, 1), 2)


def group_norm(x, scale, bias, num_groups: int, shift=None, eps: float = GN_EPS):
    """GroupNorm of x + shift over (H, W, C/num_groups), then × scale + bias, per channel.

    Equals flax.linen.GroupNorm(num_groups)(x + shift) with that module's scale and bias;
    ``shift`` (a per-channel vector, typically the preceding conv's bias) is never added to x.
    """
    b, h, w, c = x.shape
    size = c // num_groups
    flat = x.reshape(b, h * w, c)
    n1 = jnp.mean(flat, axis=1)
    # a contraction, not mean(x * x): XLA lowers it to one reduction without a squared temporary
    n2 = jnp.einsum("bpc,bpc->bc", flat, flat) / (h * w)
    if shift is None:
        shift, m1, m2 = 0.0, n1, n2
    else:
        m1, m2 = n1 + shift, n2 + 2.0 * shift * n1 + shift * shift
    g1 = m1.reshape(b, num_groups, size).mean(-1)
    g2 = m2.reshape(b, num_groups, size).mean(-1)
    inv = jax.lax.rsqrt(jnp.maximum(g2 - g1 * g1, 0.0) + eps)
    a = jnp.repeat(inv, size, axis=1) * scale
    offset = bias + (shift - jnp.repeat(g1, size, axis=1)) * a
    return x * a[:, None, None, :] + offset[:, None, None, :]


def pointwise(x, kernel):
    """1×1 convolution of (B, H, W, C) by a (C, D) kernel, as a matmul batched over B."""
    b, h, w, c = x.shape
    d = kernel.shape[1]
    if d < c:
        k, dims = jnp.broadcast_to(kernel.T, (b, d, c)), (((2,), (2,)), ((0,), (0,)))
    else:
        k, dims = jnp.broadcast_to(kernel, (b, c, d)), (((2,), (1,)), ((0,), (0,)))
    return jax.lax.dot_general(x.reshape(b, h * w, c), k, dims).reshape(b, h, w, d)


def _same_pads(n: int, size: int, stride: int) -> tuple[int, int]:
    total = max((-(-n // stride) - 1) * stride + size - n, 0)
    return total // 2, total - total // 2


def patches(x, size: int, stride: int = 1):
    """(B, H, W, C) -> (B, H', W', size·size·C): the 'SAME'-padded windows of a size×size conv,
    taps in HWI order (so that an HWIO kernel reshaped to (size·size·C, D) multiplies them)."""
    b, h, w, c = x.shape
    ho, wo = -(-h // stride), -(-w // stride)
    xp = jnp.pad(x, ((0, 0), _same_pads(h, size, stride), _same_pads(w, size, stride), (0, 0)))
    taps = [jax.lax.slice(xp, (0, i, j, 0), (b, i + (ho - 1) * stride + 1, j + (wo - 1) * stride + 1, c),
                          (1, stride, stride, 1)) for i in range(size) for j in range(size)]
    return jnp.stack(taps, axis=-2).reshape(b, ho, wo, size * size * c)


def conv(x, kernel, stride: int = 1, impl: str = "im2col"):
    """k×k convolution, 'SAME' padding, of (B, H, W, C) by an HWIO kernel (= nn.Conv).

    "xla": lax.conv_general_dilated (faster alone, 10× slower inside a loop, see the module doc).
    "im2col": matmuls only, so that its derivatives of any order are matmuls too. With stride 1,
    the k row taps are stacked on the input side (k× the input, not k²×), one ``pointwise`` maps
    them to k·D channels, one per column tap, and the k column-shifted slices of those are summed.
    Strided convs (the stem) multiply the full patches.
    """
    if impl == "xla":
        return jax.lax.conv_general_dilated(x, kernel, (stride, stride), "SAME",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))
    k, _, c, d = kernel.shape
    if stride != 1:
        return pointwise(patches(x, k, stride), kernel.reshape(k * k * c, d))
    b, h, w, _ = x.shape
    xp = jnp.pad(x, ((0, 0), _same_pads(h, k, 1), _same_pads(w, k, 1), (0, 0)))
    rows = jnp.stack([xp[:, i:i + h] for i in range(k)], axis=-2).reshape(b, h, w + k - 1, k * c)
    z = pointwise(rows, kernel.transpose(0, 2, 1, 3).reshape(k * c, k * d))  # (i, c) -> (j, d)
    return sum(z[:, :, j:j + w, j * d:(j + 1) * d] for j in range(k))


class Conv(nn.Module):
    """k×k conv (k = 1: ``pointwise``); returns (output without bias, bias) so that a following
    GroupNorm can fold the bias into its statistics. Init as nn.Conv (lecun normal, zero bias)."""
    features: int
    size: int = 1
    stride: int = 1
    impl: str = "im2col"

    @nn.compact
    def __call__(self, x):
        cin = x.shape[-1]
        init = nn.initializers.lecun_normal()
        if self.size == 1 and self.stride == 1:
            y = pointwise(x, self.param("kernel", init, (cin, self.features)))
        else:
            kernel = self.param("kernel", init, (self.size, self.size, cin, self.features))
            y = conv(x, kernel, self.stride, self.impl)
        return y, self.param("bias", nn.initializers.zeros, (self.features,))


def biased(y_and_bias):
    y, bias = y_and_bias
    return y + bias


def groups_for(num_groups: int, channels: int) -> int:
    """The largest divisor of ``channels`` not above ``num_groups``: narrow layers get fewer groups."""
    g = min(num_groups, channels)
    while channels % g:
        g -= 1
    return g


class NormRelu(nn.Module):
    """relu(GroupNorm(x + shift)) or relu(x + shift); params "scale" and "bias" as nn.GroupNorm's."""
    norm: str
    num_groups: int

    @nn.compact
    def __call__(self, x, shift=None):
        if self.norm == "none":
            return nn.relu(x if shift is None else x + shift)
        c = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (c,))
        bias = self.param("bias", nn.initializers.zeros, (c,))
        return nn.relu(group_norm(x, scale, bias, groups_for(self.num_groups, c), shift))


class Residual(nn.Module):
    channels: int
    norm: str = "group"
    num_groups: int = 8
    block: str = "bottleneck"
    conv: str = "im2col"

    @nn.compact
    def __call__(self, x):
        nr = lambda: NormRelu(self.norm, self.num_groups)  # noqa: E731
        if self.block == "bottleneck":
            half = max(self.channels // 2, 1)
            y = Conv(half)(nr()(x))
            y = Conv(half, 3, impl=self.conv)(nr()(*y))
            y = biased(Conv(self.channels)(nr()(*y)))
        else:
            y = Conv(self.channels, 3, impl=self.conv)(nr()(x))
            y = biased(Conv(self.channels, 3, impl=self.conv)(nr()(*y)))
        skip = x if x.shape[-1] == self.channels else biased(Conv(self.channels)(x))
        return skip + y


class Hourglass(nn.Module):
    depth: int
    channels: int
    norm: str = "group"
    num_groups: int = 8
    block: str = "bottleneck"
    conv: str = "im2col"

    @nn.compact
    def __call__(self, x):
        args = (self.channels, self.norm, self.num_groups, self.block, self.conv)
        res = lambda: Residual(*args)  # noqa: E731
        up = res()(x)
        low = res()(max_pool2(x))
        if self.depth > 1:
            low = Hourglass(self.depth - 1, *args)(low)
        else:
            low = res()(low)
        low = res()(low)
        return up + upsample2(low)


def stack(x, depth: int, args: tuple, out_channels: int, final_activation: str, reinject: bool):
    """One stack — hourglass, head, prediction, and (``reinject``) the next stack's input — built
    in the calling module's scope, so that the unrolled loop below keeps its parameter names
    (``Hourglass_s``, ``Conv_k``, ...), from which flax also derives their initial values.
    Returns (next input, or ``x`` unchanged without ``reinject``; this stack's output)."""
    channels, norm, num_groups = args[:3]
    y = Residual(*args)(Hourglass(depth, *args)(x))
    y = NormRelu(norm, num_groups)(*Conv(channels)(y))
    pred = biased(Conv(out_channels)(y))
    full = upsample2_bilinear(pred)
    out = nn.relu(full) if final_activation == "relu" else full
    if reinject:
        x = x + biased(Conv(channels)(y)) + biased(Conv(channels)(pred))
    return x, out


class Stack(nn.Module):
    """One stack as a module, the body of ``scan_stacks``'s scan: it re-injects for the last stack
    too, where nothing uses the result (a scan body is the same for every iteration)."""
    depth: int
    channels: int
    out_channels: int
    norm: str
    num_groups: int
    block: str
    final_activation: str
    conv: str

    @nn.compact
    def __call__(self, x, _):
        args = (self.channels, self.norm, self.num_groups, self.block, self.conv)
        return stack(x, self.depth, args, self.out_channels, self.final_activation, reinject=True)


class StackedHourglass(nn.Module):
    num_stacks: int = 2
    depth: int = 3
    channels: int = 32
    out_channels: int = 3
    norm: str = "group"
    num_groups: int = 8
    block: str = "bottleneck"
    final_activation: str = "none"
    conv: str = "im2col"
    scan_stacks: bool = False

    @nn.compact
    def __call__(self, images):
        _, h, w, _ = images.shape
        levels = 2 ** (self.depth + 1)
        if h % levels or w % levels:
            raise ValueError(f"StackedHourglass: input {h}x{w} must be divisible by 2^(depth+1) = {levels}")
        args = (self.channels, self.norm, self.num_groups, self.block, self.conv)
        x = Residual(*args)(biased(Conv(self.channels, 3, 2, self.conv)(images)))
        if self.scan_stacks:
            # one traced stack instead of num_stacks: the program (and its compile) shrinks with the
            # stack count; parameters get a leading stack axis, so checkpoints of the two layouts differ
            stacks = nn.scan(Stack, variable_axes={"params": 0}, split_rngs={"params": True},
                             length=self.num_stacks)
            _, outs = stacks(self.depth, self.channels, self.out_channels, self.norm, self.num_groups,
                             self.block, self.final_activation, self.conv)(x, None)
            return tuple(outs[s] for s in range(self.num_stacks))
        outputs = []
        for s in range(self.num_stacks):
            x, out = stack(x, self.depth, args, self.out_channels, self.final_activation,
                           reinject=s < self.num_stacks - 1)
            outputs.append(out)
        return tuple(outputs)


def make_model(num_stacks: int = 2, depth: int = 3, channels: int = 32, in_channels: int = 1,
               out_channels: int = 3, norm: str = "group", num_groups: int = 8,
               block: str = "bottleneck", final_activation: str = "none",
               conv: str = "im2col", scan_stacks: bool = False) -> tuple[Callable, Callable]:
    """-> (init(key, input_shape) -> params, apply(params, images) -> tuple of stack outputs).

    ``params`` is a plain pytree of float32 arrays (no batch statistics, no other collection);
    ``apply`` maps (B, H, W, in_channels) images to ``num_stacks`` arrays (B, H, W, out_channels),
    the last being the final prediction. H and W must be multiples of 2^(depth+1).
    ``scan_stacks``: the stacks run as one ``nn.scan`` over stacked parameters (same function, a
    smaller program; benchmarks/compile.py measures it).
    """
    for name, value in (("num_stacks", num_stacks), ("depth", depth), ("channels", channels),
                        ("in_channels", in_channels), ("out_channels", out_channels),
                        ("num_groups", num_groups)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"model.{name} = {value!r} is invalid: allowed an integer >= 1")
    for name, value, allowed in (("norm", norm, NORMS), ("block", block, BLOCKS),
                                 ("final_activation", final_activation, ACTIVATIONS), ("conv", conv, CONVS)):
        if value not in allowed:
            raise ValueError(f"model.{name} {value!r} not in {allowed}")
    if not isinstance(scan_stacks, bool):
        raise ValueError(f"model.scan_stacks = {scan_stacks!r} is invalid: allowed True or False")
    module = StackedHourglass(num_stacks, depth, channels, out_channels, norm, num_groups, block,
                              final_activation, conv, scan_stacks)

    def init(key, input_shape):
        if len(input_shape) != 4 or input_shape[-1] != in_channels:
            raise ValueError(f"model: input shape {tuple(input_shape)} must be (B, H, W, {in_channels}): "
                             f"the model expects {in_channels} input channels")
        # lazy_init creates the same parameters without running the network forward
        return module.lazy_init(key, jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32))["params"]

    def apply(params, images):
        return module.apply({"params": params}, images)

    return init, apply
