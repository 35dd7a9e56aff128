"""Colour conversions shared by generators, renderers, real-data loaders and tasks (numpy, no jax;
the constants work with jax.numpy arrays too).

Renders and albedo targets are linear RGB; image files and pyrender's textures are sRGB.
"""
from __future__ import annotations

import numpy as np

LUMA = np.array([0.2126, 0.7152, 0.0722])   # Rec. 709 weights, for linear RGB


def luminance(rgb: np.ndarray, dtype=np.float64) -> np.ndarray:
    """(..., 3+) linear RGB -> (...) Rec. 709 luminance; the weights are cast to ``dtype`` (numpy's
    promotion then gives float32 only for float32 input with dtype float32)."""
    return np.asarray(rgb)[..., :3] @ LUMA.astype(dtype)


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """The sRGB decoding curve (the exact one pyrender's shader applies to textures)."""
    c = np.asarray(c, np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(np.asarray(c, np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)
