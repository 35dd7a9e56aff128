"""Depth estimation: masked MSE on raw depth (jax) and the Eigen et al. (NIPS 2014) metrics (numpy).

Depth is the distance along the camera's viewing axis (``render/scene.py``), in the data's units:
centimetres for the face experiment (generator and scans share one camera), 0 outside the mask.

Offset (``offset``, default 0): the network may predict depth relative to a fixed reference,
o = depth − offset, so that a ReLU output starting near 0 need not learn a large constant (faces:
~50–70 cm at a 60 cm camera). Everything below is on **absolute** depth p = o + offset: the data
(targets, real and synthetic) stay absolute, only the network's output is shifted, and the loss and
the metrics are the standard ones on absolute depth whatever the offset.

Loss (``loss``): Σ w (p − t)² / max(Σ w, 1e-8) with w = mask (fractional weights allowed), a plain
polynomial: differentiable in ``pred`` and in every batch entry (target and mask included, as the
hybrid gradient needs) and finite everywhere, whatever the prediction.

Metrics (``metrics``), over valid pixels: mask > 0.5 and target > 0 (a log needs a positive target).
Predictions are clamped to ``min_depth`` (default 1e-3 in the data's units) before every metric, so
logs and ratios are finite for an untrained network's non-positive outputs. With d = log p − log t:

- ``abs_rel``  = mean |p − t| / t
- ``sq_rel``   = mean (p − t)² / t
- ``rmse``     = sqrt(mean (p − t)²)
- ``rmse_log`` = sqrt(mean d²)
- ``si_log``   = scale-invariant log RMSE, Eigen's Eq. 1 at λ = 1: sqrt(mean d² − (mean d)²), i.e.
  the standard deviation of d, which ignores a global scale of the prediction. Computed **per image**
  (the scale is per image) and averaged over images with at least one valid pixel.
- ``delta1`` / ``delta2`` / ``delta3`` = fraction (0..1) of pixels with max(p/t, t/p) < 1.25, 1.25², 1.25³.

Every metric except ``si_log`` pools all valid pixels of the batch.
"""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

DELTAS = (1.25, 1.25 ** 2, 1.25 ** 3)


def _check_shapes(pred, batch, where: str):
    t, m = batch["target"], batch["mask"]
    if pred.shape[-1] != 1 or pred.shape != t.shape or m.shape != pred.shape:
        raise ValueError(f"{where}: pred {pred.shape}, target {t.shape}, mask {m.shape}; "
                         "expected pred = target = mask = (B, H, W, 1)")


@dataclasses.dataclass(frozen=True)
class DepthTask:
    in_channels: int = 1
    name: str = "depth"
    out_channels: int = 1
    min_depth: float = 1e-3      # clamp for predictions in the metrics (data units)
    deltas: bool = True          # report delta1..3
    offset: float = 0.0          # the network predicts depth − offset (module doc); 0: raw depth

    def __post_init__(self):
        if not np.isfinite(self.offset) or self.offset < 0:
            raise ValueError(f"DepthTask.offset must be a finite number >= 0, got {self.offset!r}")

    def absolute(self, pred):
        """The network's output as absolute depth (adds ``offset``)."""
        return pred + self.offset if self.offset else pred

    def loss(self, pred, batch):
        """Masked mean squared error on raw depth (module doc)."""
        _check_shapes(pred, batch, "DepthTask.loss")
        w = batch["mask"]
        return jnp.sum(w * (self.absolute(pred) - batch["target"]) ** 2) / jnp.maximum(jnp.sum(w), 1e-8)

    def metrics(self, pred, batch) -> dict:
        """Eigen et al. 2014 metrics over valid pixels (module doc)."""
        pred = self.absolute(np.asarray(pred, np.float64))
        t = np.asarray(batch["target"], np.float64)
        m = np.asarray(batch["mask"], np.float64)
        _check_shapes(pred, {"target": t, "mask": m}, "DepthTask.metrics")
        valid = (m[..., 0] > 0.5) & (t[..., 0] > 0)
        if not valid.any():
            raise ValueError("depth metrics: no valid pixel (mask > 0.5 and target > 0)")
        p_all = np.maximum(pred[..., 0], self.min_depth)
        p, g = p_all[valid], t[..., 0][valid]
        err = p - g
        d = np.log(p) - np.log(g)
        out = {"abs_rel": float(np.mean(np.abs(err) / g)),
               "sq_rel": float(np.mean(err ** 2 / g)),
               "rmse": float(np.sqrt(np.mean(err ** 2))),
               "rmse_log": float(np.sqrt(np.mean(d ** 2)))}
        si = []
        for b in range(pred.shape[0]):
            vb = valid[b]
            if vb.any():
                db = np.log(p_all[b][vb]) - np.log(t[b, ..., 0][vb])
                si.append(np.sqrt(max(np.mean(db ** 2) - np.mean(db) ** 2, 0.0)))
        out["si_log"] = float(np.mean(si))
        if self.deltas:
            ratio = np.maximum(p / g, g / p)
            for i, th in enumerate(DELTAS, start=1):
                out[f"delta{i}"] = float(np.mean(ratio < th))
        return out
