"""The Trainer: the network, its inner optimizer, the validation batch and the jitted pieces every
estimator trains and scores with. Built once per run from (config, setup); frozen.

All network compute of an outer step goes through it:
- ``meta_grad(params, opt_state, X, val) -> (L, ∂L/∂X, params_K, opt_state_K, train losses)``
- ``train_only(params, opt_state, X, val) -> (L, params_K, opt_state_K, train losses)``
- ``predict(params, images)``, ``loss(params, batch)`` (the task loss of the final output)
and the host-facing helpers built on them (``train``, ``score``, ``evaluate``, ``val_loss``).
With ``mesh`` the pieces run data-parallel over its devices (core/sharding.py).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hg_jax.core import unroll


def make_inner_optimizer(c) -> optax.GradientTransformation:
    """The inner optimizer of ``config.inner`` (sgd | momentum | adam)."""
    lr = float(c.learning_rate)
    if c.optimizer == "sgd":
        return optax.sgd(lr)
    if c.optimizer == "momentum":
        return optax.sgd(lr, momentum=0.9)
    # eps_root: the meta-gradient differentiates through sqrt(ν); without it a parameter whose
    # gradient is exactly 0 (ν = 0) makes ∂L/∂X NaN (optax documents eps_root for this case)
    return optax.adam(lr, eps_root=1e-16)


@dataclasses.dataclass(frozen=True)
class Trainer:
    task: Any
    init_fn: Callable             # (key, input_shape) -> params
    apply_fn: Callable            # (params, images) -> tuple of outputs
    inner_optimizer: optax.GradientTransformation
    val_batch: dict               # real (or held-out) data for L, on device
    unroll_steps: int             # K
    batch_size: int               # B
    mesh: Any                     # jax Mesh for data-parallel inner training, or None
    meta_grad: Callable
    train_only: Callable
    predict: Callable
    loss: Callable

    @classmethod
    def build(cls, *, task, init_fn, apply_fn, inner_optimizer, val_batch, unroll_steps: int,
              batch_size: int, remat: bool = False, mesh=None, jitted: dict | None = None) -> "Trainer":
        """``jitted``: the (meta_grad, train_only, predict, loss) of an earlier Trainer with the same
        network, task, optimizer, remat and mesh, to reuse instead of tracing them again."""
        fns = jitted or jit_pieces(apply_fn, task, inner_optimizer, remat, mesh)
        return cls(task=task, init_fn=init_fn, apply_fn=apply_fn, inner_optimizer=inner_optimizer,
                   val_batch=dict(val_batch), unroll_steps=int(unroll_steps),
                   batch_size=int(batch_size), mesh=mesh, **fns)

    @property
    def batch_shape(self) -> tuple:
        return (self.unroll_steps, self.batch_size)

    def jitted(self) -> dict:
        return {k: getattr(self, k) for k in ("meta_grad", "train_only", "predict", "loss")}

    def init(self, key, input_shape):
        """-> (params, inner optimizer state) of a fresh network."""
        params = self.init_fn(key, input_shape)
        return params, self.inner_optimizer.init(params)

    # ---- what estimators call --------------------------------------------------------------
    def train(self, params, opt_state, X):
        """Train K steps on X and keep the weights (incremental training, Eq. 11).
        -> (L, params, opt_state, mean train loss, compute seconds)."""
        t = time.perf_counter()
        L, params, opt_state, losses = jax.block_until_ready(
            self.train_only(params, opt_state, X, self.val_batch))
        return float(L), params, opt_state, float(np.mean(losses)), time.perf_counter() - t

    def score(self, params, opt_state, X) -> tuple[float, float]:
        """(L, compute seconds) of the network trained K steps on X; the trained weights are
        discarded (black-box estimators score candidates this way)."""
        t = time.perf_counter()
        L = float(self.train_only(params, opt_state, X, self.val_batch)[0])
        return L, time.perf_counter() - t

    # ---- evaluation -------------------------------------------------------------------------
    def evaluate(self, params, batch: dict, chunk: int = 16) -> dict:
        """Task metrics of the final output on a (N, H, W, C) batch, predicted in chunks, and
        ``loss``: the task loss (as L is measured), weighting chunks by their mask sums, which is
        exact for the masked-mean losses of every task."""
        n = batch["image"].shape[0]
        host = {k: np.asarray(batch[k]) for k in ("image", "target", "mask")}
        preds, losses, weights = [], [], []
        for i in range(0, n, chunk):
            part = {k: jnp.asarray(v[i:i + chunk], jnp.float32) for k, v in host.items()}
            preds.append(np.asarray(self.predict(params, part["image"])))
            losses.append(float(self.loss(params, part)))
            weights.append(float(host["mask"][i:i + chunk].sum()))
        out = self.task.metrics(np.concatenate(preds), host)
        out["loss"] = float(np.average(losses, weights=np.maximum(weights, 1e-12)))
        return out

    def val_loss(self, params) -> float:
        """L of ``params`` on the validation batch."""
        return float(unroll.make_val_loss(self.apply_fn, self.task)(params, self.val_batch))


def jit_pieces(apply_fn, task, inner_optimizer, remat: bool, mesh) -> dict:
    train_loss = unroll.make_train_loss(apply_fn, task)
    val_loss = unroll.make_val_loss(apply_fn, task)
    common = dict(train_loss=train_loss, val_loss=val_loss, optimizer=inner_optimizer)
    fns = dict(meta_grad=unroll.make_meta_grad(**common, remat=remat), train_only=unroll.make_train_only(**common),
               predict=jax.jit(lambda p, x: apply_fn(p, x)[-1]))
    if mesh is not None:
        from hg_jax.core.sharding import DataParallel

        dp = DataParallel(mesh)
        fns = dict(meta_grad=dp.inner(fns["meta_grad"], has_dX=True),
                   train_only=dp.inner(fns["train_only"], has_dX=False), predict=dp.predict(fns["predict"]))
    fns["loss"] = jax.jit(val_loss)
    return fns


def device_batch(batch: dict) -> dict:
    return {k: jnp.asarray(batch[k], jnp.float32) for k in ("image", "target", "mask")}


_JITTED: dict = {}   # (network, task, inner config, mesh) -> (setup, jitted pieces) to reuse


def from_config(config, setup, mesh=None) -> Trainer:
    """The Trainer an experiment runs (benchmarks build theirs here too, so they time the same one).

    Runs of one process that share the network, task and inner optimiser (compare.py, retrain) reuse
    the first Trainer's jitted functions: a new jit would trace the meta-gradient again (about a
    minute for the default hourglass), time that no row should be charged for."""
    key = (id(setup.apply_fn), id(setup.task), config.inner.to_json(), id(mesh))
    kw = dict(task=setup.task, init_fn=setup.init_fn, apply_fn=setup.apply_fn,
              inner_optimizer=make_inner_optimizer(config.inner), val_batch=device_batch(setup.val),
              unroll_steps=config.inner.unroll_steps, batch_size=config.inner.batch_size,
              remat=bool(config.inner.remat), mesh=mesh)
    if key in _JITTED:
        return Trainer.build(**kw, jitted=_JITTED[key][1])
    trainer = Trainer.build(**kw)
    _JITTED[key] = (setup, trainer.jitted())    # the setup is kept so that its ids stay unique
    return trainer
