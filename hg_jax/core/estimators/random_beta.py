"""Random β baselines.

``random_beta`` (Table 1): β ~ N(β0, s²I) drawn once from the run's key, then held fixed. Draw i
uses ``fold_in(key, 2³⁰ + i)``; ``config.random_beta.count`` = N makes the experiment train N such
rows (draws 0..N−1) and report the best / median / worst by validation loss only.

``random_per_sample`` (NYU's "random" row): a fresh β ~ N(β0, s²I) for every training image,
drawn from the step's key, so a run reproduces from its seed; β0 itself never moves.
"""
from __future__ import annotations

import dataclasses

import jax
import numpy as np

from hg_jax.core.estimators.base import Context, RenderRequest, register, seeds_for, step_keys
from hg_jax.core.estimators.fixed import Fixed, train_on_request

DRAW_OFFSET = 2 ** 30   # fold_in offset of random_beta's draws: far from any step number


@dataclasses.dataclass(frozen=True)
class RandomHyper:
    std: float = 0.5     # spread around the setup's β0, unconstrained units
    draw: int = 0        # which of the N draws (random_beta)

    @classmethod
    def from_config(cls, config):
        return cls(std=float(config.random_beta.std))


def draw_beta(key, beta0, std: float, draw: int = 0) -> np.ndarray:
    """β0 + std·z, z ~ N(0, I) from ``fold_in(key, 2³⁰ + draw)``."""
    beta0 = np.asarray(beta0, np.float64)
    z = np.asarray(jax.random.normal(jax.random.fold_in(key, DRAW_OFFSET + draw), (beta0.size,)), np.float64)
    return beta0 + std * z


@register("random_beta")
@dataclasses.dataclass(frozen=True)
class RandomBeta(Fixed):
    Hyper = RandomHyper
    hp: RandomHyper
    ctx: Context

    def init(self, state, key):
        return state.replace_beta(draw_beta(key, state.beta, self.hp.std, self.hp.draw))


def per_sample_betas(key, beta, std: float, batch_shape) -> np.ndarray:
    """(K, B, d): β + std·z for every training image, z from ``key``."""
    beta = np.asarray(beta, np.float64)
    z = np.asarray(jax.random.normal(key, tuple(batch_shape) + (beta.size,)), np.float64)
    return beta + std * z


@register("random_per_sample")
@dataclasses.dataclass(frozen=True)
class RandomPerSample:
    Hyper = RandomHyper
    hp: RandomHyper
    ctx: Context
    updates_beta = False

    def init(self, state, key):
        return state

    def ask(self, state, key) -> RenderRequest:
        k_seed, k_beta = step_keys(key)
        return RenderRequest(seeds=seeds_for(k_seed, self.ctx.batch_shape),
                             train=per_sample_betas(k_beta, state.beta, self.hp.std, self.ctx.batch_shape))

    def tell(self, state, renders, trainer):
        return train_on_request(state, renders, trainer)
