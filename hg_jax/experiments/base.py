"""What an experiment hands the run, and the pieces several experiments share.

An experiment is a folder ``hg_jax/experiments/<name>/`` whose ``setup.py`` has
``validate(config)`` (its own ``config.data`` / ``config.model`` fields, before anything loads),
``network_and_task(config) -> (init, apply, task)`` (no data: evaluation uses it) and
``build(config) -> Setup`` (sampler, network, task, real validation and test data), plus optional
``ROWS``: names of the β rows its ``Setup.named_betas`` offers to ``config.baselines``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import numpy as np

from hg_jax.errors import ConfigError


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
    named_betas: tuple = ()          # (name, β): rows config.baselines may name, trained with β fixed
    genomes: Any = None              # a genome space (generators/csg_genome.GenomeSpace) for Shape Evolution


def check_disjoint(data, val_field: str, test_field: str) -> None:
    """ConfigError unless config.data.<val_field> and <test_field> share no item."""
    overlap = set(data[val_field]) & set(data[test_field])
    if overlap:
        raise ConfigError(f"config.data.{val_field} and {test_field} overlap on {sorted(overlap)}: "
                          "test items must never influence β")


def check_int(data, field: str, low: int, allowed: str) -> None:
    if not (isinstance(data[field], int) and data[field] >= low):
        raise ConfigError(f"config.data.{field} = {data[field]!r} is invalid: allowed {allowed}")


def renderer_kwargs(config) -> dict:
    """The renderer a rendered experiment passes its RenderedSampler (config.render)."""
    return dict(renderer=config.render.renderer, spp=int(config.render.spp))


# ---- the Stacked Hourglass, shared by the rendered experiments ---------------------------------
def build_network(m, in_channels: int, out_channels: int, final_activation: str = "none"):
    """The Stacked Hourglass of ``config.model`` (norm / conv / block / scan_stacks default to group /
    im2col / bottleneck / False when a checkpoint's config does not name them)."""
    from hg_jax.models.hourglass import make_model

    return make_model(num_stacks=int(m.num_stacks), depth=int(m.depth), channels=int(m.channels),
                      in_channels=in_channels, out_channels=out_channels, final_activation=final_activation,
                      norm=m.get("norm", "group"), conv=m.get("conv", "im2col"),
                      block=m.get("block", "bottleneck"), scan_stacks=m.get("scan_stacks", False))


def validate_model(config) -> None:
    """config.model and config.data.size, for every hourglass experiment."""
    from hg_jax.models import hourglass

    d, m = config.data, config.model
    for f in ("num_stacks", "depth", "channels"):
        if not (isinstance(m[f], int) and m[f] >= 1):
            raise ConfigError(f"config.model.{f} = {m[f]!r} is invalid: allowed an integer >= 1")
    levels = 2 ** (int(m.depth) + 1)
    if not (isinstance(d.size, int) and d.size >= levels and d.size % levels == 0):
        raise ConfigError(f"config.data.size = {d.size!r} is invalid: allowed a multiple of "
                          f"2^(model.depth+1) = {levels}")
    for f, allowed in (("norm", hourglass.NORMS), ("conv", hourglass.CONVS), ("block", hourglass.BLOCKS)):
        if f in m and m[f] not in allowed:
            raise ConfigError(f"config.model.{f} = {m[f]!r} is invalid: allowed {allowed}")
    if "scan_stacks" in m and not isinstance(m.scan_stacks, bool):
        raise ConfigError(f"config.model.scan_stacks = {m.scan_stacks!r} is invalid: allowed True or False")


INPUTS = ("gray", "rgb")


def check_input(data) -> None:
    """config.data.input of a rendered experiment: the network sees gray or rgb renders."""
    if data.input not in INPUTS:
        raise ConfigError(f"config.data.input = {data.input!r} is invalid: allowed {INPUTS}")


def in_channels(data) -> int:
    return 3 if data.input == "rgb" else 1
