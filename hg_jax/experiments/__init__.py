"""Experiments: config → sampler, task, network, real data. One folder each (see base.py).

A new experiment is a folder ``hg_jax/experiments/<name>/`` plus one line in ``EXPERIMENTS`` (module
path, so that importing one experiment never imports another's dependencies) and a config file
``configs/<name>.py``.
"""
from __future__ import annotations

import importlib

from hg_jax.errors import ConfigError

EXPERIMENTS = {
    "toy": "hg_jax.experiments.toy.setup",
    "mbii": "hg_jax.experiments.mbii.setup",
    "nyu": "hg_jax.experiments.nyu.setup",
    "faces": "hg_jax.experiments.faces.setup",
    "intrinsic": "hg_jax.experiments.intrinsic.setup",
    "csg_control": "hg_jax.experiments.control.setup",
    "nyu_control": "hg_jax.experiments.control.setup",
}


def available() -> list[str]:
    return sorted(EXPERIMENTS)


def module(experiment: str):
    if experiment not in EXPERIMENTS:
        raise ConfigError(f"config.experiment = {experiment!r} is invalid: allowed one of {available()}")
    return importlib.import_module(EXPERIMENTS[experiment])


def build(config):
    """The experiment's Setup (data loaded); ``validate(config)`` first."""
    return module(config.experiment).build(config)


def validate(config) -> None:
    """The whole config, once, before anything loads: the shared fields (hg_jax/config.py), the
    method and baselines, then the experiment's own fields. Raises ConfigError naming the field."""
    from hg_jax import config as config_lib
    from hg_jax.core.estimators.base import available as estimators

    config_lib.validate(config)
    mod = module(config.experiment)
    if config.method not in estimators():
        raise ConfigError(f"config.method = {config.method!r} is invalid: allowed one of {estimators()}")
    rows = tuple(getattr(mod, "ROWS", ()))
    for b in config.baselines:
        if b not in estimators() and b not in rows:
            raise ConfigError(f"config.baselines = {tuple(config.baselines)!r} is invalid: allowed entries "
                              f"from {estimators() + list(rows)}")
    mod.validate(config)
