"""The outer loop of one row: ask → render → tell → β update → metrics, checkpoint.

Each step the loop asks the estimator what to render (``ask(state, fold_in(key, step))``), submits
all of it to the render pools at once, and hands the pending renders to ``tell``, which runs the
Trainer's compute while the rest still renders (e.g. the ±δ renders during the meta-gradient). A β
gradient goes through the β optimizer here (a non-finite one skips the update and is counted).
Every step appends one line to ``metrics.jsonl``; every ``checkpoint_every`` steps the whole state
is checkpointed (checkpoint.py), so a killed row started again resumes where it stopped and
writes the same trajectory (step t's randomness is ``fold_in(key, t)``).

Nothing here reads the config or knows which estimator or experiment runs.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import sys
import time
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hg_jax import checkpoint
from hg_jax.core.estimators.base import Context
from hg_jax.core.estimators.fixed import Fixed, NoHyper
from hg_jax.core.state import OuterState

FAULT_KEYS = ("worker_crashes", "timeouts", "restarts", "retries", "failed_jobs")


class SharedRmsState(NamedTuple):
    count: jax.Array
    nu: jax.Array


def scale_by_shared_rms(decay: float, eps: float = 1e-8, bias_correction: bool = True
                        ) -> optax.GradientTransformation:
    """RMSprop's normalisation with one running second moment for all of β instead of one per
    coordinate. Per coordinate, a coordinate whose true derivative is ~0 still moves about lr a step
    (its estimate is pure noise, divided by that noise's own RMS) and random-walks; with one shared
    scale it moves by its share of the estimate only, and the step stays invariant to the loss's
    scale."""

    def init(params):
        return SharedRmsState(count=jnp.zeros([], jnp.int32), nu=jnp.zeros([]))

    def update(updates, state, params=None):
        del params
        leaves = jax.tree_util.tree_leaves(updates)
        mean_sq = sum(jnp.sum(jnp.square(g)) for g in leaves) / sum(g.size for g in leaves)
        count = state.count + 1
        nu = decay * state.nu + (1 - decay) * mean_sq
        nu_hat = nu / (1 - decay ** count) if bias_correction else nu
        scale = jax.lax.rsqrt(nu_hat + eps)
        return jax.tree_util.tree_map(lambda g: g * scale, updates), SharedRmsState(count, nu)

    return optax.GradientTransformation(init, update)


def make_beta_optimizer(c, updates: int = 0) -> optax.GradientTransformation:
    """RMSprop on β (paper §4) from ``config.beta_opt``, for a row of ``updates`` β updates. Without
    bias correction its first step is lr·√(1/(1−decay)) per coordinate (3.2·lr at decay 0.9)
    whatever the gradient's size, a jump the noisy first estimate decides; ``bias_correction``
    (default) makes every step about lr. ``schedule = "cosine"`` decays lr to 0 over the updates:
    large steps while β is far from where the loss wants it, small ones to settle instead of
    wandering at ~lr per step once the estimate is mostly noise. ``momentum`` averages the noisy
    estimates over ~1/(1 − momentum) steps. ``scale = "shared"``: one second moment for all of β
    (``scale_by_shared_rms``) instead of the paper's per-coordinate one."""
    lr = c.learning_rate
    if c.schedule == "cosine":
        lr = optax.cosine_decay_schedule(c.learning_rate, max(1, int(updates)))
    momentum = float(c.momentum) or None
    if c.get("scale", "coordinate") == "coordinate":
        return optax.rmsprop(lr, decay=c.decay, bias_correction=bool(c.bias_correction), momentum=momentum)
    return optax.chain(scale_by_shared_rms(c.decay, bias_correction=bool(c.bias_correction)),
                       optax.scale_by_learning_rate(lr),
                       optax.trace(decay=momentum) if momentum else optax.identity())


def beta_updates(config) -> int:
    """How many β updates a row of ``config`` makes (what a cosine schedule decays over)."""
    return int(config.outer_steps) - int(config.beta_opt.warmup_steps)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The budget and bookkeeping of every row of a run."""
    outer_steps: int
    eval_every: int
    checkpoint_every: int = 0     # 0: only at the end
    checkpoint_async: bool = False   # saves finish in the background (checkpoint.Checkpointer)
    budget_s: float = 0.0         # wall seconds per row (0: no limit)
    # the first steps of every row train the network on its starting β without moving β, the same
    # way for every estimator (rows stay comparable): a network a few steps from its random init
    # gives a meaningless ∂L/∂X (benchmarks/meta_signal.py)
    warmup_steps: int = 0

    @classmethod
    def from_config(cls, config) -> "Settings":
        return cls(outer_steps=int(config.outer_steps), eval_every=int(config.eval_every),
                   checkpoint_every=int(config.checkpoint_every), budget_s=float(config.budget_s),
                   checkpoint_async=bool(config.checkpoint_async),
                   warmup_steps=int(config.beta_opt.warmup_steps))


@dataclasses.dataclass(frozen=True)
class Row:
    """One trained network of a run: its name, its estimator and the β it starts from."""
    name: str
    estimator: Any
    beta0: np.ndarray


@dataclasses.dataclass(frozen=True)
class Run:
    """What every row of a run shares."""
    settings: Settings
    trainer: Any                  # core.trainer.Trainer
    pools: Any                    # core.bridge.Pools
    beta_optimizer: optax.GradientTransformation
    schema: Any                   # BetaSchema
    input_shape: tuple
    tests: dict                   # name -> real test set (never used for β or model choice)
    workdir: str
    key: Any                      # the run's key (config.seed)
    beta_error: Optional[Callable] = None     # β -> distance to β* (controlled setups)
    # initial_network(trainer, key, input_shape), made once for every row (eager init takes seconds)
    network: Optional[tuple] = None


def initial_network(trainer, key, input_shape) -> tuple:
    """(params, inner optimizer state) of the fresh network every row of the run ``key`` starts from."""
    return trainer.init(jax.random.split(key)[0], input_shape)


def init_state(trainer, beta_optimizer, beta0, key, input_shape, network=None) -> OuterState:
    """Step 0: a fresh network from ``key``'s first half (``network``: that network, already made by
    ``initial_network``), β0, fresh optimizer states; the other half is the run key that every step
    folds its number into."""
    k_run = jax.random.split(key)[1]
    params, inner_opt_state = network if network is not None else initial_network(trainer, key, input_shape)
    beta0 = np.asarray(beta0, np.float64)
    return OuterState(step=0, beta=beta0, beta_opt_state=beta_optimizer.init(jnp.zeros(beta0.size)),
                      params=params, inner_opt_state=inner_opt_state, key=k_run)


def apply_beta_gradient(beta_optimizer, state: OuterState, g: np.ndarray) -> tuple[OuterState, bool]:
    """One step of the β optimizer; a non-finite gradient skips the update and is counted."""
    if not np.all(np.isfinite(g)):
        return state.replace(skipped_updates=state.skipped_updates + 1), False
    updates, opt_state = beta_optimizer.update(jnp.asarray(g, jnp.float32), state.beta_opt_state)
    beta = state.beta + np.asarray(updates, np.float64)
    return state.replace(beta=beta, beta_opt_state=opt_state), True


def outer_step(state: OuterState, estimator, trainer, pools, beta_optimizer) -> tuple[OuterState, dict]:
    """One outer step of ``estimator``: -> (state at step + 1, the step's metrics)."""
    request = estimator.ask(state, jax.random.fold_in(state.key, state.step))
    renders = pools.submit(request)           # everything at once: it renders while tell computes
    state, g, aux = estimator.tell(state, renders, trainer)
    if g is not None:
        state, applied = apply_beta_gradient(beta_optimizer, state, g)
        aux = {**aux, "beta_grad": np.asarray(g).tolist(), "beta_update_applied": applied}
    return state.replace(step=state.step + 1), aux


def params_digest(params) -> str:
    """A fingerprint of the initial network, so comparisons can check every row started from it."""
    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(params):
        h.update(np.asarray(leaf).tobytes())
    return h.hexdigest()[:16]


def evaluate_tests(trainer, tests: dict, params) -> dict:
    return {name: trainer.evaluate(params, data) for name, data in tests.items()}


class Preempted(SystemExit):
    """Raised after a SIGTERM once the state is checkpointed; exit code 143 like a plain SIGTERM."""

    def __init__(self):
        super().__init__(143)


class _SigtermFlag:
    """SIGTERM (what a cluster sends before preemption) asks the loop to checkpoint and stop."""

    def __init__(self):
        self.raised = False
        self._old = None

    def __enter__(self):
        try:
            self._old = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread (e.g. some launchers): leave signals alone
            self._old = None
        return self

    def _handle(self, *_):
        self.raised = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


class BestSnapshot:
    """The row's network at its lowest validation loss (the paper reports that snapshot); kept in
    memory, written beside the regular checkpoints whenever they are, and restored on resume. Only
    the validation loss chooses it: the test sets are evaluated on it at the end."""

    def __init__(self, directory: str, template, carried: dict, background: bool = False):
        self._ckpt = checkpoint.Checkpointer(directory, keep=1, background=background)
        self.val_loss = float(carried.get("best_val_loss", np.inf))
        self.state, self._saved = None, True
        if np.isfinite(self.val_loss):
            self.state, extra = self._ckpt.restore_latest(template)
            self.val_loss = float(extra.get("val_loss", self.val_loss))

    def offer(self, state, val_loss: float) -> None:
        if np.isfinite(val_loss) and val_loss < self.val_loss:
            self.val_loss, self.state, self._saved = float(val_loss), state, False

    def save(self) -> None:
        if not self._saved and self.state is not None:
            self._ckpt.save(self.state, {"val_loss": self.val_loss})
            self._saved = True

    def wait(self) -> None:
        self._ckpt.wait()

    def report(self, run: Run) -> dict | None:
        if self.state is None:
            return None
        # re-evaluated by the program that gives the row's final val_loss, so the two compare exactly;
        # self.val_loss came from inside the step's program and differs from it by float rounding
        return {"step": int(self.state.step), "val_loss": run.trainer.val_loss(self.state.params),
                "beta": np.asarray(self.state.beta).tolist(),
                "test": evaluate_tests(run.trainer, run.tests, self.state.params)}


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=not sys.stderr.isatty(), leave=False)


def _tensorboard(workdir: str):
    from tensorboardX import SummaryWriter

    return SummaryWriter(os.path.join(workdir, "tensorboard"))


def _log_tensorboard(writer, row: str, rec: dict, schema) -> None:
    step = rec["step"]
    for k in ("val_loss", "train_loss", "wall_s", "render_s", "compute_s"):
        if k in rec:
            writer.add_scalar(f"{row}/{k}", rec[k], step)
    for name, value in schema.describe(np.asarray(rec["beta"])).items():
        for i, v in enumerate(value):
            writer.add_scalar(f"{row}/beta/{name}{i if len(value) > 1 else ''}", v, step)
    for test_set, metrics in rec.get("test", {}).items():
        for m, v in metrics.items():
            writer.add_scalar(f"{row}/test/{test_set}/{m}", v, step)


def train_row(run: Run, row: Row) -> dict:
    """One row: ``outer_steps`` steps of its estimator from the run's initial network, resumable.
    -> the row's report entry."""
    run.schema.check(row.beta0, "beta0")
    state = init_state(run.trainer, run.beta_optimizer, row.beta0, run.key, run.input_shape, run.network)
    init_digest = params_digest(state.params)
    state = row.estimator.init(state, state.key)
    ckpt = checkpoint.Checkpointer(os.path.join(run.workdir, "checkpoints", row.name),
                                   background=run.settings.checkpoint_async)
    log = checkpoint.MetricsLog(os.path.join(run.workdir, "metrics.jsonl"), row.name)
    state, carried = ckpt.restore_latest(state)
    log.truncate_after(state.step)
    best = BestSnapshot(os.path.join(run.workdir, "checkpoints", "best", row.name), state, carried,
                        run.settings.checkpoint_async)
    bar = _progress(run.settings.outer_steps, row.name)
    bar.update(state.step)
    writer = _tensorboard(run.workdir)
    try:
        with _SigtermFlag() as sigterm:
            state, last_test = _steps(run, row, state, carried, ckpt, log, best, bar, writer, sigterm)
    finally:
        ckpt.wait()       # saves finish in the background: on disk before the row returns or stops
        best.wait()
        writer.close()
        bar.close()
    if not last_test:  # resumed after the last step: re-evaluate from the restored weights
        last_test = evaluate_tests(run.trainer, run.tests, state.params)
    out = {"method": row.estimator.name, "beta_initial": np.asarray(row.beta0).tolist(),
           "beta": np.asarray(state.beta).tolist(),
           "beta_named": run.schema.describe(state.beta), "test": last_test,
           "val_loss": run.trainer.val_loss(state.params),
           "timings": log.last_timings(), "skipped_updates": int(state.skipped_updates),
           "best": best.report(run), "init_digest": init_digest}
    if run.beta_error is not None:
        out["beta_error"] = {"start": run.beta_error(row.beta0), "end": run.beta_error(state.beta)}
    if row.estimator.updates_beta and state.step and state.skipped_updates >= state.step:
        out["all_beta_updates_skipped"] = True
        print(f"ERROR: row {row.name!r}: all {state.step} β updates were skipped (non-finite gradients): "
              "β never moved, so this row measures β0", file=sys.stderr)
    return out


def _steps(run: Run, row: Row, state, carried, ckpt, log, best, bar, writer, sigterm):
    s, pools, trainer = run.settings, run.pools, run.trainer
    wall0, render0 = carried.get("wall_s", 0.0), carried.get("render_s", 0.0)
    compute_total, renders0 = carried.get("compute_s", 0.0), carried.get("renders", 0)
    sgd_steps = carried.get("sgd_steps", 0)
    last_test = carried.get("test", {})
    t_start, render_start, jobs_start = time.perf_counter(), pools.render_s, pools.stats.get("jobs", 0)
    warmup = Fixed(NoHyper(), Context(schema=run.schema, batch_shape=trainer.batch_shape))
    while state.step < s.outer_steps:
        if s.budget_s and wall0 + time.perf_counter() - t_start >= s.budget_s:
            break
        warming = state.step < s.warmup_steps
        state, info = outer_step(state, warmup if warming else row.estimator, trainer, pools, run.beta_optimizer)
        if warming:
            info["warmup"] = True
        compute_total += info.pop("compute_s")
        sgd_steps += trainer.unroll_steps * info.pop("trainings")
        stats = pools.stats
        rec = {"step": state.step, "row": row.name, "method": row.estimator.name,
               "beta": np.asarray(state.beta).tolist(), **info,
               "skipped_updates": int(state.skipped_updates),
               "wall_s": wall0 + time.perf_counter() - t_start,
               "render_s": render0 + pools.render_s - render_start,
               "compute_s": compute_total,
               "renders": renders0 + stats.get("jobs", 0) - jobs_start,
               "sgd_steps": sgd_steps,
               "render_faults": {k: int(v) for k, v in stats.items() if k in FAULT_KEYS}}
        if run.beta_error is not None:
            rec["beta_error"] = run.beta_error(state.beta)
        out_of_budget = bool(s.budget_s) and rec["wall_s"] >= s.budget_s
        if state.step % s.eval_every == 0 or state.step == s.outer_steps or out_of_budget:
            last_test = evaluate_tests(trainer, run.tests, state.params)
            rec["test"] = last_test
        best.offer(state, rec["val_loss"])
        log.append(rec)
        bar.update(1)
        _log_tensorboard(writer, row.name, rec, run.schema)
        if (s.checkpoint_every and state.step % s.checkpoint_every == 0) \
                or state.step == s.outer_steps or sigterm.raised or out_of_budget:
            best.save()
            ckpt.save(state, {k: rec[k] for k in ("wall_s", "render_s", "compute_s", "renders", "sgd_steps")}
                      | {"test": last_test, "best_val_loss": best.val_loss})
        if sigterm.raised:
            raise Preempted()
    return state, last_test
