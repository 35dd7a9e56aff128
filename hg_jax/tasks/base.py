"""What the engine asks of a task: a differentiable loss and host-side metrics.

``pred`` is the network's final output (B, H, W, out_channels); ``batch`` a dict with ``image``,
``target``, ``mask`` of shape (B, H, W, C). ``loss`` must be differentiable w.r.t. every entry of
``batch`` (the analytic half of the hybrid gradient flows through it) and is used both for
training and as the validation loss L on real data. ``metrics`` runs on numpy.
"""
from __future__ import annotations

from typing import Protocol


class Task(Protocol):
    name: str
    in_channels: int
    out_channels: int

    def loss(self, pred, batch): ...            # jax scalar

    def metrics(self, pred, batch) -> dict: ...  # numpy -> {name: float}
