"""Stacked Hourglass (Newell et al. 2016) in flax, pure (no mutable batch statistics).

Layout: a stride-2 stem, then ``num_stacks`` hourglasses of ``depth`` levels at half resolution,
each followed by a prediction head; predictions are bilinearly upsampled to the input size, and
every stack's prediction is returned (intermediate supervision). Between stacks the features and
the prediction are re-injected (1×1 convs), as in the paper.

Residual blocks are Newell's bottleneck (1×1 → 3×3 → 1×1, pre-activation). Normalisation is
GroupNorm (``norm="group"``) — batch statistics would have to be carried through the unrolled
scan — or none (``norm="none"``). Pooling is a reshape + max and nearest upsampling a broadcast,
both exact equivalents of the usual ops and cheaper for XLA on CPU.
"""
from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp


def max_pool2(x):
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def upsample2(x):
    b, h, w, c = x.shape
    return jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c)).reshape(b, 2 * h, 2 * w, c)


class Norm(nn.Module):
    kind: str = "group"
    groups: int = 8

    @nn.compact
    def __call__(self, x):
        if self.kind == "none":
            return x
        return nn.GroupNorm(num_groups=min(self.groups, x.shape[-1]))(x)


class Residual(nn.Module):
    channels: int
    norm: str = "group"
    groups: int = 8

    @nn.compact
    def __call__(self, x):
        half = max(self.channels // 2, 1)
        y = nn.relu(Norm(self.norm, self.groups)(x))
        y = nn.Conv(half, (1, 1))(y)
        y = nn.relu(Norm(self.norm, self.groups)(y))
        y = nn.Conv(half, (3, 3))(y)
        y = nn.relu(Norm(self.norm, self.groups)(y))
        y = nn.Conv(self.channels, (1, 1))(y)
        skip = x if x.shape[-1] == self.channels else nn.Conv(self.channels, (1, 1))(x)
        return skip + y


class Hourglass(nn.Module):
    depth: int
    channels: int
    norm: str = "group"
    groups: int = 8

    @nn.compact
    def __call__(self, x):
        res = lambda: Residual(self.channels, self.norm, self.groups)  # noqa: E731
        up = res()(x)
        low = res()(max_pool2(x))
        low = Hourglass(self.depth - 1, self.channels, self.norm, self.groups)(low) if self.depth > 1 \
            else res()(low)
        low = res()(low)
        return up + upsample2(low)


class StackedHourglass(nn.Module):
    num_stacks: int = 2
    depth: int = 3
    channels: int = 32
    out_channels: int = 3
    norm: str = "group"
    groups: int = 8
    final_activation: str = "none"

    @nn.compact
    def __call__(self, images):
        b, h, w, _ = images.shape
        if h % (2 ** (self.depth + 1)) or w % (2 ** (self.depth + 1)):
            raise ValueError(f"StackedHourglass: input {h}x{w} must be divisible by 2^(depth+1) = "
                             f"{2 ** (self.depth + 1)}")
        x = nn.Conv(self.channels, (3, 3), strides=(2, 2))(images)
        x = Residual(self.channels, self.norm, self.groups)(x)
        outputs = []
        for s in range(self.num_stacks):
            y = Hourglass(self.depth, self.channels, self.norm, self.groups)(x)
            y = Residual(self.channels, self.norm, self.groups)(y)
            y = nn.relu(Norm(self.norm, self.groups)(nn.Conv(self.channels, (1, 1))(y)))
            pred = nn.Conv(self.out_channels, (1, 1))(y)
            full = jax.image.resize(pred, (b, h, w, self.out_channels), "bilinear")
            outputs.append(nn.relu(full) if self.final_activation == "relu" else full)
            if s < self.num_stacks - 1:
                x = x + nn.Conv(self.channels, (1, 1))(y) + nn.Conv(self.channels, (1, 1))(pred)
        return tuple(outputs)


def make_model(num_stacks: int = 2, depth: int = 3, channels: int = 32, in_channels: int = 1,
               out_channels: int = 3, norm: str = "group", groups: int = 8,
               final_activation: str = "none") -> tuple[Callable, Callable]:
    """-> (init(key, input_shape) -> params, apply(params, images) -> tuple of stack outputs)."""
    if norm not in ("group", "none"):
        raise ValueError(f"model.norm {norm!r} not in ('group', 'none')")
    if final_activation not in ("none", "relu"):
        raise ValueError(f"model.final_activation {final_activation!r} not in ('none', 'relu')")
    module = StackedHourglass(num_stacks, depth, channels, out_channels, norm, groups, final_activation)

    def init(key, input_shape):
        if input_shape[-1] != in_channels:
            raise ValueError(f"model: input has {input_shape[-1]} channels, model expects {in_channels}")
        return module.init(key, jnp.zeros(input_shape))["params"]

    def apply(params, images):
        return module.apply({"params": params}, images)

    return init, apply
