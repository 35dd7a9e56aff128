"""REINFORCE on β (as in Learning to Simulate / Meta-Sim): a Gaussian policy over generator parameters.

Candidates β_j ~ N(β, σ²I) are drawn, the current network is trained on f(β_j, r) and scored by
the validation loss L_j; the score-function gradient of E[L] w.r.t. the policy mean is
(1/m) Σ_j (L_j − b) (β_j − β)/σ², with b a moving average of past losses (the baseline, carried
in the method state). The network then continues on f(β, r), as for the other methods.
"""
from __future__ import annotations

import numpy as np

from hg_jax.methods.base import register

BASELINE_DECAY = 0.9


@register("reinforce")
class Reinforce:
    updates_beta = True    # β moves by gradient steps: a run with every update skipped is flagged

    def init(self, engine, state):
        return state.replace(method_state={"baseline": np.float64(np.nan)})

    def step(self, engine, state):
        deltas, base, cands = engine.submit_perturbed(state, signs=(1,))
        scored = [engine.candidate_loss(state, pending) for (pending,) in cands]
        losses = np.array([L for L, _ in scored])
        b = float(state.method_state["baseline"])
        if not np.isfinite(b):
            b = float(losses.mean())
        g = ((losses - b)[:, None] * deltas).mean(0) / engine.sigma ** 2
        new_b = BASELINE_DECAY * b + (1 - BASELINE_DECAY) * float(losses.mean())
        state, L, train_loss, t = engine.continue_training(state, base)
        state = state.replace(method_state={"baseline": np.float64(new_b)})
        state, applied = engine.apply_beta_gradient(state, g)
        return state, {"val_loss": L, "train_loss": train_loss, "beta_grad": g.tolist(),
                       "beta_update_applied": applied, "reinforce_baseline": new_b,
                       "compute_s": sum(s for _, s in scored) + t}
