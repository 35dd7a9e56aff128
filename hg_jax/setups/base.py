"""What a setup hands the experiment loop."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import numpy as np


@dataclasses.dataclass(frozen=True)
class Setup:
    sampler: Any                     # f(β, r) -> sample (picklable; rendered in the pool)
    task: Any
    init_fn: Callable                # (key, input_shape) -> params
    apply_fn: Callable               # (params, images) -> tuple of outputs
    input_shape: tuple               # (1, H, W, C)
    val: dict                        # real data for β's validation loss L
    tests: dict                      # name -> real test set (never used for β or model choice)
    beta0: np.ndarray
    beta_star: Optional[np.ndarray] = None      # known only in controlled settings (toy, *_control)
    # distance of β to β* on what the loss identifies; default: ‖β − β*‖ in unconstrained units
    beta_error: Optional[Callable] = None
    notes: tuple = ()                # said in report.json (e.g. "test set is tiny")
    draw_samples: Optional[Callable] = None     # (path, sampler, {name: beta}) -> None
    extra_rows: tuple = ()           # (name, beta) rows trained with β fixed, e.g. ("original", β)


def check_disjoint(data, val_field: str, test_field: str) -> None:
    """ConfigError unless config.data.<val_field> and <test_field> share no item."""
    from hg_jax.config import ConfigError

    overlap = set(data[val_field]) & set(data[test_field])
    if overlap:
        raise ConfigError(f"config.data.{val_field} and {test_field} overlap on {sorted(overlap)}: "
                          "test items must never influence β")
