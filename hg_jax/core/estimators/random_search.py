"""Basic Random Search (Mania et al. 2018, plain antithetic BRS) on β, as the paper's baseline.

Same σ, m, seeds (common random numbers), β optimizer and incremental training as hybrid; the only
difference is where ∂L/∂β comes from: for each direction the current network is trained on a
copy of the step's seeds rendered at β+δ_j and at β−δ_j, L± are measured on the validation set,
and g = Σ_j (L⁺_j − L⁻_j) δ_j / (2 m σ²), the Gaussian-smoothing estimate of ∇_β L (unbiased for
the gradient of the σ-smoothed L). The network then continues training on f(β, r) as in hybrid,
so both carry the same weights forward.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from hg_jax.core.estimators.base import Context, RenderRequest, register
from hg_jax.core.estimators.hybrid import PerturbHyper, perturbed_request


def gradient(diffs, deltas, sigma: float) -> np.ndarray:
    """Σ_j (L⁺_j − L⁻_j) δ_j / (2 m σ²)."""
    deltas = np.asarray(deltas)
    return (np.asarray(diffs)[:, None] * deltas).sum(0) / (2 * len(deltas) * sigma ** 2)


@register("random_search")
@dataclasses.dataclass(frozen=True)
class RandomSearch:
    Hyper = PerturbHyper
    hp: PerturbHyper
    ctx: Context
    updates_beta = True

    def init(self, state, key):
        return state

    def ask(self, state, key) -> RenderRequest:
        return perturbed_request(state.beta, key, self.ctx, self.hp)

    def tell(self, state, renders, trainer):
        compute_s, diffs = 0.0, []
        probes = renders.probes
        for j in range(len(probes) // 2):
            (lp, tp) = trainer.score(state.params, state.inner_opt_state, probes[2 * j].result())
            (lm, tm) = trainer.score(state.params, state.inner_opt_state, probes[2 * j + 1].result())
            diffs.append(lp - lm)
            compute_s += tp + tm
        L, params, opt_state, train_loss, t = trainer.train(state.params, state.inner_opt_state,
                                                            renders.train.result())
        g = gradient(diffs, renders.request.payload, self.hp.sigma)
        state = state.replace(params=params, inner_opt_state=opt_state)
        return state, g, {"val_loss": L, "train_loss": train_loss, "compute_s": compute_s + t,
                          "trainings": len(probes) + 1}
