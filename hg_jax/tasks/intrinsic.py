"""Intrinsic decomposition: image → albedo (RGB) and shading (gray), masked losses (jax) and
metrics (numpy).

Channels: ``pred`` and ``target`` are (B, H, W, 4) = albedo R, G, B, shading. Both the synthetic
samples (generators/rendered.py: shading = luminance(image) / luminance(albedo)) and the real
loaders (data/mbii_intrinsic.py, data/textured.py) keep image ≈ albedo × shading, so the
reconstruction metrics compare albedo × shading with the input image.
"""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from hg_jax.colour import LUMA
from hg_jax.tasks.regression import masked_mean


def _check_shapes(pred, batch, where: str):
    t, m = batch["target"], batch["mask"]
    if pred.shape[-1] != 4 or pred.shape != t.shape or m.shape != pred.shape[:-1] + (1,):
        raise ValueError(f"{where}: pred {pred.shape}, target {t.shape}, mask {m.shape}; expected "
                         "pred = target = (B, H, W, 4) (albedo RGB, shading) and mask (B, H, W, 1)")


def _pooled(err: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    """MAE and RMSE over every valid pixel and channel of the batch."""
    e = err[valid]
    return float(np.mean(np.abs(e))), float(np.sqrt(np.mean(e ** 2)))


def si_rmse(pred: np.ndarray, target: np.ndarray, valid: np.ndarray) -> float:
    """Scale-invariant RMSE: per image, the prediction is scaled by the α minimising
    Σ (α p − t)² over its valid pixels and channels, α = Σ p t / Σ p² (0 if p is 0 there); the RMSE
    of α p − t over those pixels and channels is then averaged over the images with a valid pixel."""
    out = []
    for p, t, v in zip(pred, target, valid):
        p, t = p[v], t[v]
        if p.size == 0:
            continue
        pp = float(np.sum(p * p))
        alpha = float(np.sum(p * t)) / pp if pp > 0 else 0.0
        out.append(np.sqrt(np.mean((alpha * p - t) ** 2)))
    return float(np.mean(out))


@dataclasses.dataclass(frozen=True)
class IntrinsicTask:
    in_channels: int = 3
    name: str = "intrinsic"
    out_channels: int = 4

    def __post_init__(self):
        if self.in_channels not in (1, 3):
            raise ValueError(f"IntrinsicTask.in_channels must be 1 (gray) or 3 (RGB), got {self.in_channels!r}")

    def loss(self, pred, batch):
        """Masked MSE of the albedo (mean over pixels and its 3 channels) + masked MSE of the
        shading. Differentiable in ``pred`` and in every batch entry (the hybrid gradient needs
        target and mask too); the mask weights pixels and may be fractional."""
        _check_shapes(pred, batch, "IntrinsicTask.loss")
        err = (pred - batch["target"]) ** 2
        m = batch["mask"]
        return masked_mean(err[..., :3], m) + masked_mean(err[..., 3:], m)

    def metrics(self, pred, batch) -> dict:
        """Over the valid pixels (mask > 0.5) of the batch: ``albedo_mae``, ``albedo_rmse``,
        ``shading_mae``, ``shading_rmse`` (pooled over pixels and channels); ``albedo_si_rmse``,
        ``shading_si_rmse`` (see :func:`si_rmse`: per image, then mean over images); and
        ``recon_mae``, ``recon_rmse`` of albedo × shading (predicted) against the input image
        (its luminance for a gray input)."""
        pred = np.asarray(pred, np.float64)
        b = {k: np.asarray(batch[k], np.float64) for k in ("target", "mask", "image")}
        _check_shapes(pred, b, "IntrinsicTask.metrics")
        valid = b["mask"][..., 0] > 0.5
        if not valid.any():
            raise ValueError("intrinsic metrics: the mask selects no pixel")
        pa, ps, ta, ts = pred[..., :3], pred[..., 3:], b["target"][..., :3], b["target"][..., 3:]
        out = {}
        for what, p, t in (("albedo", pa, ta), ("shading", ps, ts)):
            out[f"{what}_mae"], out[f"{what}_rmse"] = _pooled(p - t, valid)
            out[f"{what}_si_rmse"] = si_rmse(p, t, valid)
        image = b["image"]
        if image.shape[:-1] != pred.shape[:-1] or image.shape[-1] not in (1, 3):
            raise ValueError(f"intrinsic metrics: image {image.shape}, expected {pred.shape[:-1]} + (1 or 3,)")
        recon = pa * ps if image.shape[-1] == 3 else (pa @ LUMA)[..., None] * ps
        out["recon_mae"], out["recon_rmse"] = _pooled(recon - image, valid)
        return out
