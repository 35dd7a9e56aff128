"""An experiment's jitted outer-step functions with abstract arguments: built from the config alone
(no data, no renderer, no weights), so that they can be lowered and compiled to measure compile
time and XLA's memory estimate, e.g. of a ``:paper`` config on a machine that could never run it."""
from __future__ import annotations

import dataclasses

import jax

from hg_jax import experiments
from hg_jax.core import unroll
from hg_jax.core.precompile import render_batch
from hg_jax.core.trainer import make_inner_optimizer


@dataclasses.dataclass(frozen=True)
class AbstractStep:
    meta_grad: object          # jitted (params, opt_state, X, val) -> (L, dL/dX, ...)
    train_only: object         # jitted (params, opt_state, X, val) -> (L, params, ...)
    args: tuple                # ShapeDtypeStructs (params, opt_state, X, val)
    state_bytes: int           # params + inner optimizer state


def build(config, val_size: int | None = None) -> AbstractStep:
    """The hybrid method's meta-gradient and the plain train function of ``config``, with the
    argument shapes an outer step passes them (validation batch: ``val_size`` images, default B)."""
    init, apply, task = experiments.module(config.experiment).network_and_task(config)
    size, k, b = int(config.data.size), int(config.inner.unroll_steps), int(config.inner.batch_size)
    opt = make_inner_optimizer(config.inner)
    params = jax.eval_shape(lambda key: init(key, (1, size, size, task.in_channels)), jax.random.PRNGKey(0))
    opt_state = jax.eval_shape(opt.init, params)
    common = dict(train_loss=unroll.make_train_loss(apply, task), val_loss=unroll.make_val_loss(apply, task),
                  optimizer=opt)
    X = render_batch((k, b), size, size, task.in_channels, task.out_channels)
    val = render_batch((val_size or b,), size, size, task.in_channels, task.out_channels)
    nbytes = sum(x.size * x.dtype.itemsize for x in jax.tree_util.tree_leaves((params, opt_state)))
    return AbstractStep(unroll.make_meta_grad(**common, remat=bool(config.inner.remat)), unroll.make_train_only(**common),
                        (params, opt_state, X, val), int(nbytes))
