"""Masked mean-squared-error regression: the toy task, and the template for dense regression tasks."""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np


def masked_mean(x, mask, xp=jnp):
    """Mean of ``x`` over masked pixels; channels of ``x`` are averaged too."""
    w = xp.broadcast_to(mask, x.shape)
    return xp.sum(x * w) / xp.maximum(xp.sum(w), 1e-8)


@dataclasses.dataclass(frozen=True)
class RegressionTask:
    name: str = "regression"
    in_channels: int = 1
    out_channels: int = 1

    def loss(self, pred, batch):
        return masked_mean((pred - batch["target"]) ** 2, batch["mask"])

    def metrics(self, pred, batch) -> dict:
        pred, tgt, mask = (np.asarray(a, np.float64) for a in (pred, batch["target"], batch["mask"]))
        err = pred - tgt
        return {"mse": float(masked_mean(err ** 2, mask, np)),
                "mae": float(masked_mean(np.abs(err), mask, np))}
