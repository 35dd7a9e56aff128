"""The engine: what every outer-step method shares (pool, network, task, jitted pieces).

Built once by experiment.py from plain arguments; methods receive it and never read the config.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hg_jax import hybrid, unroll
from hg_jax.host import PendingBatches, seeds_from_key
from hg_jax.state import OuterState


@dataclasses.dataclass(frozen=True)
class Engine:
    pool: Any                     # host renderer pool: submit(jobs) -> pending, render_s, stats
    schema: Any                   # BetaSchema
    task: Any
    init_fn: Callable             # (key, input_shape) -> params
    apply_fn: Callable            # (params, images) -> tuple of outputs
    inner_optimizer: optax.GradientTransformation
    beta_optimizer: optax.GradientTransformation
    val_batch: dict               # real (or held-out) data for L, on device
    unroll_steps: int             # K
    batch_size: int               # B
    num_directions: int = 8       # m
    sigma: float = 0.05
    normalisation: str = "paper"
    remat: bool = False
    mesh: Any = None              # jax Mesh for data-parallel inner training (None: one device)
    meta_grad: Callable = None
    train_only: Callable = None
    predict: Callable = None
    loss: Callable = None         # jitted (params, batch) -> the task loss of the final output

    @classmethod
    def build(cls, **kw) -> "Engine":
        eng = cls(**kw)
        train_loss = unroll.make_train_loss(eng.apply_fn, eng.task)
        val_loss = unroll.make_val_loss(eng.apply_fn, eng.task)
        common = dict(train_loss=train_loss, val_loss=val_loss, optimizer=eng.inner_optimizer,
                      remat=eng.remat)
        apply_fn = eng.apply_fn
        fns = dict(meta_grad=unroll.make_meta_grad(**common), train_only=unroll.make_train_only(**common),
                   predict=jax.jit(lambda p, x: apply_fn(p, x)[-1]))
        if eng.mesh is not None:
            from hg_jax.sharding import DataParallel

            dp = DataParallel(eng.mesh)
            fns = dict(meta_grad=dp.inner(fns["meta_grad"], has_dX=True),
                       train_only=dp.inner(fns["train_only"], has_dX=False), predict=dp.predict(fns["predict"]))
        return dataclasses.replace(eng, **fns, loss=jax.jit(val_loss))

    # ---- state -------------------------------------------------------------------------------
    def init_state(self, beta0: np.ndarray, key, input_shape) -> OuterState:
        self.schema.check(beta0, "beta0")
        k_net, k_run = jax.random.split(key)
        params = self.init_fn(k_net, input_shape)
        return OuterState(step=0, beta=np.asarray(beta0, np.float64),
                          beta_opt_state=self.beta_optimizer.init(jnp.zeros(self.schema.size)),
                          params=params, inner_opt_state=self.inner_optimizer.init(params), key=k_run)

    def step_keys(self, state: OuterState, n: int = 3):
        return jax.random.split(jax.random.fold_in(state.key, state.step), n)

    # ---- host side ---------------------------------------------------------------------------
    def seeds(self, key) -> np.ndarray:
        return seeds_from_key(key, (self.unroll_steps, self.batch_size))

    def render(self, beta, seeds) -> PendingBatches:
        return PendingBatches(self.pool, beta, seeds)

    def submit_perturbed(self, state: OuterState, signs=(1, -1)):
        """This step's directions δ_j, and renders of f(β, r) and f(β + s·δ_j, r) for every sign s,
        all with the step's seeds r (common random numbers). Everything is submitted at once, so
        the pool renders while the caller computes."""
        k_seed, k_dir, _ = self.step_keys(state)
        seeds = self.seeds(k_seed)
        deltas = hybrid.directions(k_dir, self.num_directions, self.schema.size, self.sigma)
        base = self.render(state.beta, seeds)
        perturbed = [tuple(self.render(state.beta + s * d, seeds) for s in signs) for d in deltas]
        return deltas, base, perturbed

    def candidate_loss(self, state: OuterState, pending) -> tuple[float, float]:
        """(L, compute seconds) of the current network trained K steps on ``pending``'s renders;
        the trained weights are discarded (black-box methods score candidates this way)."""
        X = pending.result()
        t = time.perf_counter()
        L = float(self.train_only(state.params, state.inner_opt_state, X, self.val_batch)[0])
        return L, time.perf_counter() - t

    def continue_training(self, state: OuterState, pending):
        """Train on ``pending``'s renders and keep the weights (incremental training, Eq. 11).
        -> (state, L, mean train loss, compute seconds)."""
        X = pending.result()
        t = time.perf_counter()
        L, params, opt_state, losses = jax.block_until_ready(
            self.train_only(state.params, state.inner_opt_state, X, self.val_batch))
        return (state.replace(params=params, inner_opt_state=opt_state), float(L),
                float(np.mean(losses)), time.perf_counter() - t)

    # ---- device side -------------------------------------------------------------------------
    def apply_beta_gradient(self, state: OuterState, g: np.ndarray) -> tuple[OuterState, bool]:
        """One RMSprop step on β; a non-finite gradient skips the update and is counted."""
        if not np.all(np.isfinite(g)):
            return state.replace(skipped_updates=state.skipped_updates + 1), False
        updates, opt_state = self.beta_optimizer.update(jnp.asarray(g, jnp.float32),
                                                        state.beta_opt_state)
        beta = state.beta + np.asarray(updates, np.float64)
        return state.replace(beta=beta, beta_opt_state=opt_state), True

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

    def val_loss(self, params, batch: dict) -> float:
        return float(unroll.make_val_loss(self.apply_fn, self.task)(params, batch))


class Timer:
    """Accumulates wall seconds of a phase: ``with timer('compute'): ...``."""

    def __init__(self):
        self.totals: dict[str, float] = {}

    def __call__(self, name: str):
        timer = self

        class _Ctx:
            def __enter__(self):
                self.t = time.perf_counter()

            def __exit__(self, *exc):
                timer.totals[name] = timer.totals.get(name, 0.0) + time.perf_counter() - self.t

        return _Ctx()
