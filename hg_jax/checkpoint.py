"""Checkpoints (orbax) and the metrics log, both safe against a process killed at any instant.

A checkpoint holds the whole OuterState (β, both optimizer states, network weights, step = RNG
position) plus the cumulative timings and last test metrics. orbax writes into a temporary
directory and renames it when complete, so a kill mid-save leaves the previous checkpoint intact;
saves finish in the background, and a row waits for its last one before it returns or stops.
``metrics.jsonl`` may run ahead of the last checkpoint when a run is killed; on resume the lines
after the checkpointed step are dropped, so the resumed log equals an uninterrupted run's.
"""
from __future__ import annotations

import json
import os

import jax
import numpy as np
import orbax.checkpoint as ocp

from hg_jax.errors import DataNotFound


class Checkpointer:
    def __init__(self, directory: str, keep: int = 2, background: bool = True):
        self.directory = os.path.abspath(os.path.expanduser(directory))   # orbax needs absolute paths
        self.background = bool(background)
        self._mgr = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))

    def save(self, state, extra: dict) -> None:
        """With ``background``, starts writing the checkpoint and returns: orbax finishes it in a
        thread (about a second per save here, mostly waiting, that the run then does not pay); a
        later save waits for the earlier one, and ``wait()`` for the last. Otherwise returns once
        it is on disk."""
        step = int(state.step)
        self._mgr.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(_to_saveable(state)),
            extra=ocp.args.JsonSave(extra)))
        if not self.background:
            self.wait()

    def wait(self) -> None:
        """Block until every started save is on disk."""
        self._mgr.wait_until_finished()

    def restore_latest(self, template):
        """-> (state, extra); (template, {}) when there is no checkpoint yet."""
        self.wait()
        step = self._mgr.latest_step()
        if step is None:
            return template, {}
        restored = self._mgr.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(_to_saveable(template)), extra=ocp.args.JsonRestore()))
        return _from_saveable(template, restored["state"]), dict(restored["extra"])


def latest_step(directory: str) -> int | None:
    """The step of the newest complete checkpoint in ``directory`` (None if there is none), read
    without creating anything."""
    directory = os.path.abspath(os.path.expanduser(directory))
    if not os.path.isdir(directory):
        return None
    return ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(create=False)).latest_step()


def _to_saveable(state):
    # orbax stores arrays; ints and the typed key become arrays and come back in _from_saveable.
    return jax.tree_util.tree_map(np.asarray, state.replace(key=jax.random.key_data(state.key))
                                  if jax.dtypes.issubdtype(state.key.dtype, jax.dtypes.prng_key)
                                  else state)


def _from_saveable(template, restored):
    restored = jax.tree_util.tree_map(lambda t, r: np.asarray(r, dtype=np.asarray(t).dtype),
                                      _to_saveable(template), restored)
    return template.replace(
        step=int(restored.step), beta=np.asarray(restored.beta, np.float64),
        beta_opt_state=jax.tree_util.tree_map(jax.numpy.asarray, restored.beta_opt_state),
        params=jax.tree_util.tree_map(jax.numpy.asarray, restored.params),
        inner_opt_state=jax.tree_util.tree_map(jax.numpy.asarray, restored.inner_opt_state),
        key=jax.numpy.asarray(restored.key, dtype=template.key.dtype),
        skipped_updates=int(restored.skipped_updates),
        method_state=restored.method_state)


class MetricsLog:
    """Append-only JSON lines, one per outer step of one row."""

    def __init__(self, path: str, row: str):
        self.path, self.row = path, row

    def _lines(self) -> list[dict]:
        if not os.path.exists(self.path):
            return []
        out = []
        with open(self.path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:  # a line cut by a kill mid-write
                    pass
        return out

    def truncate_after(self, step: int) -> None:
        lines = [r for r in self._lines() if r.get("row") != self.row or r["step"] <= step]
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            for r in lines:
                f.write(json.dumps(r) + "\n")
        os.replace(tmp, self.path)

    def append(self, rec: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def last_timings(self) -> dict:
        mine = [r for r in self._lines() if r.get("row") == self.row]
        return {k: mine[-1][k] for k in ("wall_s", "render_s", "compute_s", "renders") if k in mine[-1]} \
            if mine else {}


def load_trained(workdir: str, row: str | None = None):
    """(config dict, network params) of a finished or running workdir, without building its setup.

    ``row`` defaults to the run's main method. Parameters come from the row's latest checkpoint.
    """
    workdir = os.path.abspath(os.path.expanduser(workdir))   # orbax refuses relative paths
    report_path = os.path.join(workdir, "report.json")
    ckpt_root = os.path.join(workdir, "checkpoints")
    if not os.path.isdir(ckpt_root):
        raise DataNotFound(f"{ckpt_root} not found: {workdir} holds no trained run")
    if os.path.exists(report_path):
        config = json.load(open(report_path))["config"]
    else:
        raise DataNotFound(f"{report_path} not found: the run in {workdir} has not finished")
    row = row or config["method"]
    mgr = ocp.CheckpointManager(os.path.join(ckpt_root, row))
    step = mgr.latest_step()
    if step is None:
        raise DataNotFound(f"no checkpoint for row {row!r} in {ckpt_root}: allowed rows "
                           f"{sorted(d for d in os.listdir(ckpt_root))}")
    restored = mgr.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(),
                                                         extra=ocp.args.JsonRestore()))
    return config, jax.tree_util.tree_map(jax.numpy.asarray, restored["state"]["params"])
