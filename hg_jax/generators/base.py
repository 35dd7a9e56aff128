"""What the engine asks of a generator: f(β, r) -> Sample, with common random numbers.

A *sample* is a dict of float32 host arrays, all of shape (H, W, C):
  ``image``  the network input,
  ``target`` the ground truth the task regresses (normals, depth, albedo+shading, ...),
  ``mask``   (H, W, 1) 1 where ``target`` is defined.
Every entry is part of X in the paper: ∂L/∂X covers images *and* labels.

Common random numbers: a sampler draws everything random from ``seed`` alone, in an order and
amount that do not depend on β (fixed-size blocks of uniforms/normals drawn up front, turned into
discrete choices by inverse CDF and into continuous values by reparameterisation), so that
f(β+δ, r) and f(β−δ, r) differ only through β.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from hg_jax.beta import BetaSchema

Sample = dict  # str -> np.ndarray (H, W, C) float32
SAMPLE_KEYS = ("image", "target", "mask")


class Sampler(Protocol):
    """f(β, r). Must be picklable: the render pool calls it inside worker processes."""

    schema: BetaSchema

    def __call__(self, beta: np.ndarray, seed: int) -> Sample: ...

    def default_beta(self) -> np.ndarray: ...


def check_sample(sample: Sample, where: str = "sample") -> Sample:
    for k in SAMPLE_KEYS:
        if k not in sample:
            raise ValueError(f"{where}: missing key {k!r} (a sample needs {SAMPLE_KEYS})")
        a = sample[k]
        if not isinstance(a, np.ndarray) or a.ndim != 3:
            raise ValueError(f"{where}[{k!r}]: expected an (H, W, C) numpy array, got "
                             f"{type(a).__name__} {getattr(a, 'shape', None)}")
    return sample


def stack_samples(samples: list[Sample]) -> dict[str, np.ndarray]:
    return {k: np.stack([np.asarray(s[k], np.float32) for s in samples]) for k in SAMPLE_KEYS}
