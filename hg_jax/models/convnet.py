"""A small fully-convolutional net: the toy experiment's network and the gradient tests' subject."""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax


class ConvNet(nn.Module):
    features: Sequence[int] = (8, 8)
    out_channels: int = 1

    @nn.compact
    def __call__(self, x):
        for f in self.features:
            x = nn.tanh(nn.Conv(f, (3, 3))(x))  # tanh: smooth, so float64 finite differences are clean
        return (nn.Conv(self.out_channels, (3, 3))(x),)


def make_convnet(features: Sequence[int] = (8, 8), in_channels: int = 1, out_channels: int = 1):
    """-> (init(key, input_shape) -> params, apply(params, images) -> tuple of outputs)."""
    module = ConvNet(tuple(features), out_channels)

    def init(key, input_shape):
        if input_shape[-1] != in_channels:
            raise ValueError(f"model: input has {input_shape[-1]} channels, model expects {in_channels}")
        return module.init(key, jax.numpy.zeros(input_shape))["params"]

    def apply(params, images):
        return module.apply({"params": params}, images)

    return init, apply
