"""REINFORCE on β (as in Learning to Simulate / Meta-Sim): a Gaussian policy over generator parameters.

Candidates β_j ~ N(β, σ²I) are drawn, the current network is trained on f(β_j, r) and scored by
the validation loss L_j; the score-function gradient of E[L] w.r.t. the policy mean is
(1/m) Σ_j (L_j − b) (β_j − β)/σ², with b a moving average of past losses (the baseline, carried
in ``method_state``; the first step uses its own mean). The network then continues on f(β, r), as
for the other estimators.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from hg_jax.core.estimators.base import Context, RenderRequest, register
from hg_jax.core.estimators.hybrid import PerturbHyper, perturbed_request


def gradient(losses, baseline: float, deltas, sigma: float) -> np.ndarray:
    """(1/m) Σ_j (L_j − b) δ_j / σ²."""
    return ((np.asarray(losses) - baseline)[:, None] * np.asarray(deltas)).mean(0) / sigma ** 2


@register("reinforce")
@dataclasses.dataclass(frozen=True)
class Reinforce:
    @dataclasses.dataclass(frozen=True)
    class Hyper(PerturbHyper):
        baseline_decay: float = 0.9      # b ← decay·b + (1 − decay)·mean_j L_j

    hp: Hyper
    ctx: Context
    updates_beta = True

    def init(self, state, key):
        return state.replace(method_state={"baseline": np.float64(np.nan)})

    def ask(self, state, key) -> RenderRequest:
        return perturbed_request(state.beta, key, self.ctx, self.hp, signs=(1,))

    def tell(self, state, renders, trainer):
        scored = [trainer.score(state.params, state.inner_opt_state, p.result()) for p in renders.probes]
        losses = np.array([L for L, _ in scored])
        b = float(state.method_state["baseline"])
        if not np.isfinite(b):
            b = float(losses.mean())
        g = gradient(losses, b, renders.request.payload, self.hp.sigma)
        new_b = self.hp.baseline_decay * b + (1 - self.hp.baseline_decay) * float(losses.mean())
        L, params, opt_state, train_loss, t = trainer.train(state.params, state.inner_opt_state,
                                                            renders.train.result())
        state = state.replace(params=params, inner_opt_state=opt_state,
                              method_state={"baseline": np.float64(new_b)})
        return state, g, {"val_loss": L, "train_loss": train_loss, "reinforce_baseline": new_b,
                          "compute_s": sum(s for _, s in scored) + t, "trainings": len(scored) + 1}
