"""A random fixed β (Table 1): β ~ N(β0, s²I) drawn once from the run's seed, then held fixed.

Ten runs with seeds 0..9 give the paper's ten random β; benchmarks/compare.py selects best /
median / worst by validation loss only and reports their test metrics.
"""
from __future__ import annotations

import jax
import numpy as np

from hg_jax.methods.base import register
from hg_jax.methods.fixed import Fixed

INIT_STD = 0.5   # spread of the init distribution around the setup's β0, unconstrained units


@register("random_beta")
class RandomBeta(Fixed):
    def init(self, engine, state):
        z = np.asarray(jax.random.normal(jax.random.fold_in(state.key, 2**30), (engine.schema.size,)),
                       np.float64)
        return state.replace_beta(state.beta + INIT_STD * z)
