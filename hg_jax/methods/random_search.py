"""Basic Random Search (Mania et al. 2018, plain antithetic BRS) on β, as the paper's baseline.

Same σ, m, seeds (common random numbers), RMSprop and incremental training as hybrid; the only
difference is where ∂L/∂β comes from: for each direction the current network is trained on a
copy of the step's seeds rendered at β+δ_j and at β−δ_j, L± are measured on the validation set,
and g = Σ_j (L⁺_j − L⁻_j) δ_j / (2 m σ²) — the Gaussian-smoothing estimate of ∇_β L. The network
then continues training on f(β, r) as in hybrid, so both carry the same weights forward.
"""
from __future__ import annotations

import numpy as np

from hg_jax.methods.base import register


@register("random_search")
class RandomSearch:
    updates_beta = True    # β moves by gradient steps: a run with every update skipped is flagged

    def init(self, engine, state):
        return state

    def step(self, engine, state):
        deltas, base, pm = engine.submit_perturbed(state)
        compute_s, diffs = 0.0, []
        for plus, minus in pm:
            (lp, tp), (lm, tm) = engine.candidate_loss(state, plus), engine.candidate_loss(state, minus)
            diffs.append(lp - lm)
            compute_s += tp + tm
        state, L, train_loss, t = engine.continue_training(state, base)
        g = (np.asarray(diffs)[:, None] * deltas).sum(0) / (2 * len(deltas) * engine.sigma ** 2)
        state, applied = engine.apply_beta_gradient(state, g)
        return state, {"val_loss": L, "train_loss": train_loss, "beta_grad": g.tolist(),
                       "beta_update_applied": applied, "compute_s": compute_s + t}
