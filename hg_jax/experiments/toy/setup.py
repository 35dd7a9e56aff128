"""The controlled toy: real data = the toy generator at a known β*."""
from __future__ import annotations

import numpy as np

from hg_jax.errors import ConfigError
from hg_jax.experiments.base import Setup, check_int
from hg_jax.generators.toy import ToySampler
from hg_jax.models.convnet import make_convnet
from hg_jax.samples import draw_samples
from hg_jax.tasks.regression import RegressionTask

VAL_SEED0, TEST_SEED0 = 1_000_000, 2_000_000   # disjoint from training seeds' typical use


def network_and_task(config):
    init_fn, apply_fn = make_convnet(tuple(config.model.features), 1, 1)
    return init_fn, apply_fn, RegressionTask()


def validate(config) -> None:
    d = config.data
    for f in ("size", "num_blobs", "val_count", "test_count"):
        check_int(d, f, 1, "an integer >= 1")
    unknown = set(d.init_shift) - set(ToySampler().schema.names)
    if unknown:
        raise ConfigError(f"config.data.init_shift: unknown fields {sorted(unknown)}; allowed "
                          f"{ToySampler().schema.names}")


def build(config) -> Setup:
    d = config.data
    sampler = ToySampler(size=int(d.size), num_blobs=int(d.num_blobs))
    schema = sampler.schema
    beta_star = sampler.default_beta()
    beta0 = beta_star.copy()
    for name, shift in d.init_shift.items():
        beta0[schema.slices()[name]] += float(shift)
    init_fn, apply_fn, task = network_and_task(config)
    val = sampler.batch(beta_star, np.arange(VAL_SEED0, VAL_SEED0 + int(d.val_count)))
    test = sampler.batch(beta_star, np.arange(TEST_SEED0, TEST_SEED0 + int(d.test_count)))
    return Setup(sampler=sampler, task=task, init_fn=init_fn, apply_fn=apply_fn,
                 input_shape=(1, d.size, d.size, 1), val=val, tests={"heldout": test}, beta0=beta0,
                 beta_star=beta_star, draw_samples=draw_samples)
