"""Surface-normal estimation: cosine loss (jax) and the standard angular metrics (numpy), masked."""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

THRESHOLDS = (11.25, 22.5, 30.0)


def _unit(x, xp, eps=1e-6):
    # eps inside the root keeps the gradient finite at a zero prediction
    return x / xp.sqrt(xp.sum(x * x, axis=-1, keepdims=True) + eps)


@dataclasses.dataclass(frozen=True)
class NormalsTask:
    in_channels: int = 1
    name: str = "normals"
    out_channels: int = 3

    def loss(self, pred, batch):
        """Masked mean of 1 − cos(angle) between the normalised prediction and the target.

        Differentiable in the prediction and in every batch entry (target and mask too), as the
        hybrid gradient needs; the target of a render is unit normals × mask.
        """
        cos = jnp.sum(_unit(pred, jnp) * batch["target"], axis=-1, keepdims=True)
        w = batch["mask"]
        return jnp.sum((1.0 - cos) * w) / jnp.maximum(jnp.sum(w), 1e-8)

    def metrics(self, pred, batch) -> dict:
        """Over all valid pixels of the batch: mean/median angle (degrees), MSE of unit normals
        (mean over valid pixels of the mean squared difference of the 3 components), and the
        percentage of pixels within 11.25°, 22.5° and 30°."""
        pred = _unit(np.asarray(pred, np.float64), np, eps=1e-12)
        tgt = _unit(np.asarray(batch["target"], np.float64), np, eps=1e-12)
        valid = np.asarray(batch["mask"])[..., 0] > 0.5
        p, t = pred[valid], tgt[valid]
        if len(p) == 0:
            raise ValueError("normal metrics: the mask selects no pixel")
        angle = np.degrees(np.arccos(np.clip(np.sum(p * t, axis=-1), -1.0, 1.0)))
        out = {"mean_angle": float(angle.mean()), "median_angle": float(np.median(angle)),
               "mse": float(np.mean((p - t) ** 2))}
        for th in THRESHOLDS:
            out[f"within_{th:g}"] = float(100.0 * np.mean(angle <= th))
        return out
