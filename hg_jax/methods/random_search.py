"""Basic Random Search (Mania et al. 2018, plain antithetic BRS) on β, as the paper's baseline.

Same σ, m, seeds (common random numbers), RMSprop and incremental training as hybrid; the only
difference is where ∂L/∂β comes from: for each direction the current network is trained on a
copy of the step's seeds rendered at β+δ_j and at β−δ_j, L± are measured on the validation set,
and g = Σ_j (L⁺_j − L⁻_j) δ_j / (2 m σ²) — the Gaussian-smoothing estimate of ∇_β L. The network
then continues training on f(β, r) as in hybrid, so both carry the same weights forward.
"""
from __future__ import annotations

import time

import jax
import numpy as np

from hg_jax import hybrid
from hg_jax.methods.base import register


@register("random_search")
class RandomSearch:
    def init(self, engine, state):
        return state

    def step(self, engine, state):
        k_seed, k_dir, _ = engine.step_keys(state)
        seeds = engine.seeds(k_seed)
        deltas = hybrid.directions(k_dir, engine.num_directions, engine.schema.size, engine.sigma)
        base = engine.render(state.beta, seeds)
        pm = [(engine.render(state.beta + d, seeds), engine.render(state.beta - d, seeds)) for d in deltas]
        compute_s = 0.0
        diffs = []
        for plus, minus in pm:
            losses = []
            for pending in (plus, minus):
                X = pending.result()
                t = time.perf_counter()
                L, *_ = engine.train_only(state.params, state.inner_opt_state, X, engine.val_batch)
                losses.append(float(L))
                compute_s += time.perf_counter() - t
            diffs.append(losses[0] - losses[1])
        X = base.result()
        t = time.perf_counter()
        L, params, opt_state, train_losses = jax.block_until_ready(
            engine.train_only(state.params, state.inner_opt_state, X, engine.val_batch))
        compute_s += time.perf_counter() - t
        g = (np.asarray(diffs)[:, None] * deltas).sum(0) / (2 * len(deltas) * engine.sigma ** 2)
        state = state.replace(params=params, inner_opt_state=opt_state)
        state, applied = engine.apply_beta_gradient(state, g)
        return state, {"val_loss": float(L), "train_loss": float(np.mean(train_losses)),
                       "beta_grad": g.tolist(), "beta_update_applied": applied, "compute_s": compute_s}
