"""β held fixed: the network trains on f(β, ·) with the same budget (the "random/initial β" rows)."""
from __future__ import annotations

import time

import numpy as np

from hg_jax.methods.base import register


@register("fixed")
class Fixed:
    def init(self, engine, state):
        return state

    def step(self, engine, state):
        k_seed, _, _ = engine.step_keys(state)
        X = engine.render(state.beta, engine.seeds(k_seed)).result()
        t = time.perf_counter()
        L, params, opt_state, losses = engine.train_only(
            state.params, state.inner_opt_state, X, engine.val_batch)
        L = float(L)
        compute_s = time.perf_counter() - t
        return (state.replace(params=params, inner_opt_state=opt_state),
                {"val_loss": L, "train_loss": float(np.mean(losses)), "compute_s": compute_s})
