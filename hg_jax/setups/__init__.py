"""Experiment setups: config → sampler, task, network, real data. One file per experiment.

A setup module has ``build(config) -> Setup`` and ``network_and_task(config) -> (init, apply, task)``
(used by evaluation, which must not load training data); register it in ``_SETUPS`` below (module name, so that
importing one experiment never imports another's dependencies).
"""
from __future__ import annotations

import importlib

from hg_jax.errors import ConfigError

_SETUPS = {"toy": "hg_jax.setups.toy", "mbii": "hg_jax.setups.mbii", "nyu": "hg_jax.setups.nyu",
           "faces": "hg_jax.setups.faces", "intrinsic": "hg_jax.setups.intrinsic",
           "csg_control": "hg_jax.setups.control", "nyu_control": "hg_jax.setups.control"}


def available() -> list[str]:
    return sorted(k for k, m in _SETUPS.items() if importlib.util.find_spec(m) is not None)


def module(experiment: str):
    if experiment not in _SETUPS:
        raise ConfigError(f"experiment {experiment!r} not in {available()}")
    return importlib.import_module(_SETUPS[experiment])


def build(config):
    if config.experiment not in _SETUPS:
        raise ConfigError(f"config.experiment {config.experiment!r} not in {available()}")
    return importlib.import_module(_SETUPS[config.experiment]).build(config)
