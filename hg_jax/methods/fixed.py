"""β held fixed: the network trains on f(β, ·) with the same budget (the "random/initial β" rows)."""
from __future__ import annotations

from hg_jax.methods.base import register


@register("fixed")
class Fixed:
    def init(self, engine, state):
        return state

    def step(self, engine, state):
        k_seed, _, _ = engine.step_keys(state)
        state, L, train_loss, t = engine.continue_training(state, engine.render(state.beta, engine.seeds(k_seed)))
        return state, {"val_loss": L, "train_loss": train_loss, "compute_s": t}
