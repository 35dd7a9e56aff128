"""β held fixed: the network trains on f(β, ·) with the same budget (the initial-β and "original" rows)."""
from __future__ import annotations

import dataclasses

from hg_jax.core.estimators.base import Context, RenderRequest, register, seeds_for, step_keys


@dataclasses.dataclass(frozen=True)
class NoHyper:
    @classmethod
    def from_config(cls, config):
        return cls()


def train_on_request(state, renders, trainer):
    """Train on the request's training batch and keep the weights; the common ``tell`` of every
    estimator that does not move β by a gradient."""
    L, params, opt_state, train_loss, t = trainer.train(state.params, state.inner_opt_state,
                                                        renders.train.result())
    state = state.replace(params=params, inner_opt_state=opt_state)
    return state, None, {"val_loss": L, "train_loss": train_loss, "compute_s": t, "trainings": 1}


@register("fixed")
@dataclasses.dataclass(frozen=True)
class Fixed:
    Hyper = NoHyper
    hp: NoHyper
    ctx: Context
    updates_beta = False

    def init(self, state, key):
        return state

    def ask(self, state, key) -> RenderRequest:
        return RenderRequest(seeds=seeds_for(step_keys(key)[0], self.ctx.batch_shape), train=state.beta)

    def tell(self, state, renders, trainer):
        return train_on_request(state, renders, trainer)
