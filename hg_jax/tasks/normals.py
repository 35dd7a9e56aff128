"""Surface-normal estimation: cosine loss (jax) and the standard angular metrics (numpy), masked."""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

THRESHOLDS = (11.25, 22.5, 30.0)


def _unit(x, xp, eps):
    # eps inside the root keeps value and gradient finite at a zero vector (an untrained head may
    # output exactly 0); for |x| >= 0.1 the bias of eps = 1e-6 is below 5e-5 relative.
    return x / xp.sqrt(xp.sum(x * x, axis=-1, keepdims=True) + eps)


def _check_shapes(pred, batch, where: str):
    t, m = batch["target"], batch["mask"]
    if pred.shape[-1] != 3 or pred.shape != t.shape or m.shape != pred.shape[:-1] + (1,):
        raise ValueError(f"{where}: pred {pred.shape}, target {t.shape}, mask {m.shape}; "
                         "expected pred = target = (B, H, W, 3) and mask (B, H, W, 1)")


VAL_LOSSES = ("cosine", "angle")


@dataclasses.dataclass(frozen=True)
class NormalsTask:
    in_channels: int = 1
    name: str = "normals"
    out_channels: int = 3
    val_loss_kind: str = "cosine"   # L on the validation set: "cosine" (as training) or "angle" (§5.1)

    def __post_init__(self):
        if self.val_loss_kind not in VAL_LOSSES:
            raise ValueError(f"NormalsTask.val_loss_kind {self.val_loss_kind!r} not in {VAL_LOSSES}")

    def val_loss(self, pred, batch):
        """β's loss L: the training loss, or the masked mean angular error in degrees (paper §5.1,
        "mean angle error on the validation set"); cos is clipped 1e-6 inside ±1, where arccos'
        derivative is infinite, so L stays differentiable."""
        if self.val_loss_kind == "cosine":
            return self.loss(pred, batch)
        _check_shapes(pred, batch, "NormalsTask.val_loss")
        cos = jnp.sum(_unit(pred, jnp, 1e-6) * _unit(batch["target"], jnp, 1e-6), axis=-1, keepdims=True)
        angle = jnp.degrees(jnp.arccos(jnp.clip(cos, -1.0 + 1e-6, 1.0 - 1e-6)))
        w = batch["mask"]
        return jnp.sum(angle * w) / jnp.maximum(jnp.sum(w), 1e-8)

    def loss(self, pred, batch):
        """Masked mean over pixels of 1 − cos(angle) between the normalised prediction and the target.

        The target is used as given: unit normals inside the mask (both the MBII loader and the
        renders, whose target is unit normals × mask, guarantee it), anything outside. The mask
        weights pixels (fractional weights allowed). Differentiable in ``pred`` and in every batch
        entry, target and mask included, as the hybrid gradient needs; finite at pred = 0.
        """
        _check_shapes(pred, batch, "NormalsTask.loss")
        cos = jnp.sum(_unit(pred, jnp, 1e-6) * batch["target"], axis=-1, keepdims=True)
        w = batch["mask"]
        return jnp.sum((1.0 - cos) * w) / jnp.maximum(jnp.sum(w), 1e-8)

    def metrics(self, pred, batch) -> dict:
        """Pooled over every valid pixel (mask > 0.5) of the whole batch, prediction and target both
        normalised: ``mean_angle`` and ``median_angle`` (degrees); ``mse``, the mean over valid
        pixels of ‖p − t‖² = 2 − 2 cos θ (the paper's convention: Table 1's 0.23 at 24°); and
        ``within_11.25`` / ``within_22.5`` / ``within_30``, the percentage of pixels with θ ≤ that."""
        pred = np.asarray(pred, np.float64)
        batch = {k: np.asarray(batch[k], np.float64) for k in ("target", "mask")}
        _check_shapes(pred, batch, "NormalsTask.metrics")
        valid = batch["mask"][..., 0] > 0.5
        p, t = _unit(pred[valid], np, 1e-24), _unit(batch["target"][valid], np, 1e-24)
        if len(p) == 0:
            raise ValueError("normal metrics: the mask selects no pixel")
        angle = np.degrees(np.arccos(np.clip(np.sum(p * t, axis=-1), -1.0, 1.0)))
        out = {"mean_angle": float(angle.mean()), "median_angle": float(np.median(angle)),
               "mse": float(np.mean(np.sum((p - t) ** 2, axis=-1)))}
        for th in THRESHOLDS:
            out[f"within_{th:g}"] = float(100.0 * np.mean(angle <= th))
        return out
