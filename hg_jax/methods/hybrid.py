"""Hybrid gradient (the paper's method): ∂L/∂X by reverse mode, times Eq. 10's ∂X/∂β estimate."""
from __future__ import annotations

import time

import jax
import numpy as np

from hg_jax import hybrid
from hg_jax.methods.base import register


@register("hybrid")
class Hybrid:
    updates_beta = True    # β moves by gradient steps: a run with every update skipped is flagged

    def init(self, engine, state):
        return state

    def step(self, engine, state):
        # the ± renders do not depend on the network: they render while the meta-gradient runs
        deltas, base, pm = engine.submit_perturbed(state)
        X = base.result()
        t = time.perf_counter()
        L, dX, params, opt_state, losses = engine.meta_grad(
            state.params, state.inner_opt_state, X, engine.val_batch)
        dX = jax.device_get(dX)
        compute_s = time.perf_counter() - t
        s = np.array([hybrid.inner(dX, p.result(), m.result()) for p, m in pm])
        g = hybrid.estimate(s, deltas, engine.normalisation)
        state = state.replace(params=params, inner_opt_state=opt_state)
        state, applied = engine.apply_beta_gradient(state, g)
        return state, {"val_loss": float(L), "train_loss": float(np.mean(losses)),
                       "beta_grad": g.tolist(), "beta_update_applied": applied,
                       "compute_s": compute_s}
