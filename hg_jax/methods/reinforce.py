"""REINFORCE on β (as in Learning to Simulate / Meta-Sim): a Gaussian policy over generator parameters.

Candidates β_j ~ N(β, σ²I) are drawn, the current network is trained on f(β_j, r) and scored by
the validation loss L_j; the score-function gradient of E[L] w.r.t. the policy mean is
(1/m) Σ_j (L_j − b) (β_j − β)/σ², with b a moving average of past losses (the baseline, carried
in the method state). The network then continues on f(β, r), as for the other methods.
"""
from __future__ import annotations

import time

import jax
import numpy as np

from hg_jax import hybrid
from hg_jax.methods.base import register

BASELINE_DECAY = 0.9


@register("reinforce")
class Reinforce:
    def init(self, engine, state):
        return state.replace(method_state={"baseline": np.float64(np.nan)})

    def step(self, engine, state):
        k_seed, k_dir, _ = engine.step_keys(state)
        seeds = engine.seeds(k_seed)
        deltas = hybrid.directions(k_dir, engine.num_directions, engine.schema.size, engine.sigma)
        base = engine.render(state.beta, seeds)
        cands = [engine.render(state.beta + d, seeds) for d in deltas]
        compute_s, losses = 0.0, []
        for pending in cands:
            X = pending.result()
            t = time.perf_counter()
            L, *_ = engine.train_only(state.params, state.inner_opt_state, X, engine.val_batch)
            losses.append(float(L))
            compute_s += time.perf_counter() - t
        losses = np.asarray(losses)
        b = float(state.method_state["baseline"])
        if not np.isfinite(b):
            b = float(losses.mean())
        g = ((losses - b)[:, None] * deltas).mean(0) / engine.sigma ** 2
        new_b = BASELINE_DECAY * b + (1 - BASELINE_DECAY) * float(losses.mean())
        X = base.result()
        t = time.perf_counter()
        L, params, opt_state, train_losses = jax.block_until_ready(
            engine.train_only(state.params, state.inner_opt_state, X, engine.val_batch))
        compute_s += time.perf_counter() - t
        state = state.replace(params=params, inner_opt_state=opt_state,
                              method_state={"baseline": np.float64(new_b)})
        state, applied = engine.apply_beta_gradient(state, g)
        return state, {"val_loss": float(L), "train_loss": float(np.mean(train_losses)),
                       "beta_grad": g.tolist(), "beta_update_applied": applied,
                       "reinforce_baseline": new_b, "compute_s": compute_s}
