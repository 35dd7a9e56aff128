"""The outer loop: the only module that reads the whole config.

``run(config, workdir)`` validates the config, builds the setup (sampler, task, network, real data)
and the engine, then trains one *row* per method — the configured method first, then each entry of
``config.baselines`` and the setup's extra rows, all from the same initial network and with the same
budget of outer steps. Every outer step appends one line to ``metrics.jsonl``; every
``checkpoint_every`` steps the whole state is checkpointed (checkpoint.py), so a killed run started
again with the same workdir resumes where it stopped and writes the same β trajectory.
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hg_jax import checkpoint, config as config_lib, setups
from hg_jax.engine import Engine
from hg_jax.host import make_pool
from hg_jax.methods.base import get_method
from hg_jax.methods.fixed import Fixed

_WARMUP = Fixed()


def make_inner_optimizer(c) -> optax.GradientTransformation:
    lr = float(c.learning_rate)
    if c.optimizer == "sgd":
        return optax.sgd(lr)
    if c.optimizer == "momentum":
        return optax.sgd(lr, momentum=0.9)
    # eps_root: the meta-gradient differentiates through sqrt(ν); without it a parameter whose
    # gradient is exactly 0 (ν = 0) makes ∂L/∂X NaN (optax documents eps_root for this case)
    return optax.adam(lr, eps_root=1e-16)


def make_beta_optimizer(c, updates: int = 0) -> optax.GradientTransformation:
    """RMSprop on β (paper §4). Without bias correction its first step is lr·√(1/(1−decay)) per
    coordinate (3.2·lr at decay 0.9) whatever the gradient's size, a jump the noisy first estimate
    decides; ``bias_correction`` (default) makes every step about lr."""
    momentum = float(c.get("momentum", 0.0))
    lr = c.learning_rate
    if c.get("schedule", "constant") == "cosine":   # large steps while far from β*, small ones to settle
        lr = optax.cosine_decay_schedule(c.learning_rate, max(1, int(updates)))
    return optax.rmsprop(lr, decay=c.decay, bias_correction=bool(c.get("bias_correction", True)),
                         momentum=momentum or None)


_JITTED: dict = {}   # (network, task, inner config) -> (setup, engine): jitted pieces to reuse


def build_engine(config, setup, pool, mesh=None) -> Engine:
    """The engine an experiment runs (benchmarks build theirs here too, so they time the same one).

    Rows of one process that share the network, task and inner optimiser (compare.py, retrain) reuse
    the first engine's jitted functions: a new jit would trace the meta-gradient again (about a
    minute for the default hourglass), time that no row should be charged for."""
    key = (id(setup.apply_fn), id(setup.task), config.inner.to_json(), id(mesh))
    if key in _JITTED:
        return dataclasses.replace(
            _JITTED[key][1], pool=pool, schema=setup.sampler.schema, init_fn=setup.init_fn,
            beta_optimizer=make_beta_optimizer(config.beta_opt, config.outer_steps - config.beta_opt.get("warmup_steps", 0)), val_batch=_device(setup.val),
            num_directions=config.hybrid.num_directions, sigma=config.hybrid.sigma,
            normalisation=config.hybrid.normalisation)
    engine = _build_engine(config, setup, pool, mesh)
    _JITTED[key] = (setup, engine)      # the setup is kept so that its ids stay unique
    return engine


def _build_engine(config, setup, pool, mesh) -> Engine:
    return Engine.build(
        pool=pool, schema=setup.sampler.schema, task=setup.task, init_fn=setup.init_fn,
        apply_fn=setup.apply_fn, inner_optimizer=make_inner_optimizer(config.inner),
        beta_optimizer=make_beta_optimizer(config.beta_opt, config.outer_steps - config.beta_opt.get("warmup_steps", 0)),
        val_batch=_device(setup.val), unroll_steps=config.inner.unroll_steps,
        batch_size=config.inner.batch_size, num_directions=config.hybrid.num_directions,
        sigma=config.hybrid.sigma, normalisation=config.hybrid.normalisation,
        remat=config.inner.remat, mesh=mesh)


def _device(batch: dict) -> dict:
    return {k: jnp.asarray(batch[k], jnp.float32) for k in ("image", "target", "mask")}


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=not sys.stderr.isatty(), leave=False)


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


def _rows(config, setup) -> list[tuple[str, str, np.ndarray]]:
    rows = [(config.method, config.method, setup.beta0)]
    rows += [(b, b, setup.beta0) for b in config.baselines if b != config.method]
    rows += [(name, "fixed", np.asarray(beta, np.float64)) for name, beta in setup.extra_rows]
    return rows


def run(config, workdir: str, setup=None) -> dict:
    """Run the experiment described by ``config`` in ``workdir``; returns (and writes) report.json.

    ``setup``: an already built setup of this config (callers running many rows of one experiment,
    e.g. benchmarks/compare.py and hg_jax.retrain, build it once)."""
    config_lib.validate(config)
    from hg_jax import sharding

    mesh = sharding.make_mesh(config.inner.devices)
    sharding.check_batch_size(mesh, config.inner.batch_size)
    os.makedirs(workdir, exist_ok=True)
    setup = setup if setup is not None else setups.build(config)
    config_lib.check_beta_init(config, setup.sampler.schema)
    if len(config.beta_init):
        setup = setup.__class__(**{**setup.__dict__, "beta0": np.asarray(config.beta_init, np.float64)})
    schema = setup.sampler.schema
    schema.check(setup.beta0, "setup.beta0")

    pool = make_pool(setup.sampler, config.render.num_workers, config.render.timeout_s,
                     config.render.max_retries, config.render.backend, config.render.ray_address)
    try:
        engine = build_engine(config, setup, pool, mesh)
        report_rows = {}
        for row, method_name, beta0 in _rows(config, setup):
            report_rows[row] = train_and_evaluate(config, workdir, engine, setup, row, method_name, beta0)
    finally:
        pool.close()

    main = report_rows[config.method]
    report = {"config": json.loads(config.to_json_best_effort()), "method": config.method,
              "experiment": config.experiment, "beta": main["beta"], "beta_named": main["beta_named"],
              "metrics": main["test"], "timings": main["timings"], "rows": report_rows,
              "notes": list(setup.notes), "workdir": os.path.abspath(workdir),
              "pool_stats": dict(getattr(pool, "stats", {}))}
    if setup.beta_star is not None:
        report["beta_star"] = setup.beta_star.tolist()
        report["beta_error"] = main["beta_error"]
    with open(os.path.join(workdir, "report.json.tmp"), "w") as f:
        json.dump(report, f, indent=1)
    os.replace(os.path.join(workdir, "report.json.tmp"), os.path.join(workdir, "report.json"))
    if setup.draw_samples is not None:
        betas = {"initial beta": setup.beta0, "final beta": np.asarray(main["beta"])}
        if setup.beta_star is not None:
            betas["true beta"] = setup.beta_star
        setup.draw_samples(os.path.join(workdir, "samples.png"), setup.sampler, betas)
    return report


def train_and_evaluate(config, workdir, engine: Engine, setup, row: str, method_name: str,
                       beta0: np.ndarray) -> dict:
    """One row: ``outer_steps`` steps of one method from the shared initial network, resumable."""
    method = get_method(method_name)
    state = engine.init_state(beta0, jax.random.PRNGKey(config.seed), setup.input_shape)
    init_digest = params_digest(state.params)
    state = method.init(engine, state)
    ckpt = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints", row))
    log = checkpoint.MetricsLog(os.path.join(workdir, "metrics.jsonl"), row)
    state, carried = ckpt.restore_latest(state)
    log.truncate_after(state.step)
    wall0, render0, compute0 = carried.get("wall_s", 0.0), carried.get("render_s", 0.0), \
        carried.get("compute_s", 0.0)
    last_test = carried.get("test", {})

    def beta_error(beta):
        if setup.beta_star is None:
            return None
        if setup.beta_error is not None:
            return setup.beta_error(np.asarray(beta, np.float64))
        return float(np.linalg.norm(beta - setup.beta_star))

    best = BestSnapshot(os.path.join(workdir, "checkpoints", "best", row), state, carried)
    bar = _progress(config.outer_steps, row)
    bar.update(state.step)
    writer = _tensorboard(workdir)
    try:
        with _SigtermFlag() as sigterm:
            state, last_test = _loop(config, engine, setup, row, method, method_name, state, ckpt, log,
                                     bar, writer, sigterm, wall0, render0, compute0, last_test, beta_error,
                                     best, carried.get("renders", 0))
    finally:
        writer.close()
        bar.close()
        if hasattr(method, "close"):
            method.close(engine)
    if not last_test:  # resumed after the last step: re-evaluate from the restored weights
        last_test = evaluate_tests(engine, setup, state.params)
    timings = log.last_timings()
    out = {"method": method_name, "beta_initial": np.asarray(beta0).tolist(),
           "beta": np.asarray(state.beta).tolist(),
           "beta_named": engine.schema.describe(state.beta), "test": last_test,
           "val_loss": engine.val_loss(state.params, engine.val_batch),
           "timings": timings, "skipped_updates": int(state.skipped_updates),
           "best": best.report(engine, setup), "init_digest": init_digest}
    if setup.beta_star is not None:
        out["beta_error"] = {"start": beta_error(beta0), "end": beta_error(state.beta)}
    if getattr(method, "updates_beta", False) and state.step and state.skipped_updates >= state.step:
        out["all_beta_updates_skipped"] = True
        print(f"ERROR: row {row!r}: all {state.step} β updates were skipped (non-finite gradients): "
              "β never moved, so this row measures β0", file=sys.stderr)
    return out


def params_digest(params) -> str:
    """A fingerprint of the initial network, so comparisons can check every row started from it."""
    import hashlib

    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(params):
        h.update(np.asarray(leaf).tobytes())
    return h.hexdigest()[:16]


def evaluate_tests(engine: Engine, setup, params) -> dict:
    return {name: engine.evaluate(params, data) for name, data in setup.tests.items()}


class BestSnapshot:
    """The row's network at its lowest validation loss (the paper reports that snapshot); kept in
    memory, written beside the regular checkpoints whenever they are, and restored on resume. Only
    the validation loss chooses it: the test sets are evaluated on it at the end."""

    def __init__(self, directory: str, template, carried: dict):
        self._ckpt = checkpoint.Checkpointer(directory, keep=1)
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

    def report(self, engine: Engine, setup) -> dict | None:
        if self.state is None:
            return None
        return {"step": int(self.state.step), "val_loss": self.val_loss,
                "beta": np.asarray(self.state.beta).tolist(),
                "test": evaluate_tests(engine, setup, self.state.params)}


def _loop(config, engine, setup, row, method, method_name, state, ckpt, log, bar, writer, sigterm,
          wall0, render0, compute0, last_test, beta_error, best, renders0):
    t_start, render_start = time.perf_counter(), engine.pool.render_s
    jobs_start = engine.pool.stats.get("jobs", 0)
    compute_total, own_render, own_renders = compute0, 0.0, 0   # own_*: methods with a pool of their own
    warmup = int(config.beta_opt.get("warmup_steps", 0))
    while state.step < config.outer_steps:
        if config.budget_s and wall0 + time.perf_counter() - t_start >= config.budget_s:
            break
        # warm-up: every method trains the same way on its starting β, so rows stay comparable
        state, info = (method if state.step >= warmup else _WARMUP).step(engine, state)
        if state.step < warmup:
            info["warmup"] = True
        state = state.replace(step=state.step + 1)
        compute_total += info.pop("compute_s")
        own_render += info.pop("render_s", 0.0)
        own_renders += info.pop("renders", 0)
        rec = {"step": state.step, "row": row, "method": method_name,
               "beta": np.asarray(state.beta).tolist(), **info,
               "skipped_updates": int(state.skipped_updates),
               "wall_s": wall0 + time.perf_counter() - t_start,
               "render_s": render0 + engine.pool.render_s - render_start + own_render,
               "compute_s": compute_total,
               "renders": renders0 + engine.pool.stats.get("jobs", 0) - jobs_start + own_renders,
               "render_faults": {k: int(v) for k, v in getattr(engine.pool, "stats", {}).items()
                                 if k in ("worker_crashes", "timeouts", "restarts", "retries", "failed_jobs")}}
        if setup.beta_star is not None:
            rec["beta_error"] = beta_error(state.beta)
        out_of_budget = bool(config.budget_s) and rec["wall_s"] >= config.budget_s
        if state.step % config.eval_every == 0 or state.step == config.outer_steps or out_of_budget:
            last_test = evaluate_tests(engine, setup, state.params)
            rec["test"] = last_test
        best.offer(state, rec["val_loss"])
        log.append(rec)
        bar.update(1)
        _log_tensorboard(writer, row, rec, engine.schema)
        if (config.checkpoint_every and state.step % config.checkpoint_every == 0) \
                or state.step == config.outer_steps or sigterm.raised or out_of_budget:
            best.save()
            ckpt.save(state, {k: rec[k] for k in ("wall_s", "render_s", "compute_s", "renders")}
                      | {"test": last_test, "best_val_loss": best.val_loss})
        if sigterm.raised:
            raise Preempted()
    return state, last_test
