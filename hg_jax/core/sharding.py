"""Data-parallel inner training: the batch split over devices, the network replicated.

The (K, B, ...) training batch is sharded on its B axis over a one-axis ``Mesh``; params and
optimizer state are replicated, so each device trains on B / N samples per step and XLA all-reduces
the gradients (the mean over B becomes a cross-device sum). The unrolled scan, the meta-gradient and
every optimizer are unchanged: the jitted pieces are wrapped, not rewritten, so the math is the
one-device math and results agree with it to float rounding.

On several hosts (``jax.distributed.initialize()`` before anything else), every process renders the
same batch (same β and seeds) and contributes the shards its own devices hold; outputs the host
reads (L, ∂L/∂X, predictions) are then replicated so every process can read them.
"""
from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from hg_jax.config import ConfigError

AXIS = "batch"


def make_mesh(devices: int) -> Mesh | None:
    """A mesh over the first ``devices`` devices (0: all); None when that is one device."""
    available = jax.devices()
    if not (isinstance(devices, int) and 0 <= devices <= len(available)):
        raise ConfigError(f"config.inner.devices = {devices!r} is invalid: allowed 0 (all) or 1..{len(available)}"
                          f" (jax sees {len(available)} {available[0].platform} device(s))")
    n = len(available) if devices == 0 else devices
    return None if n == 1 else Mesh(np.array(available[:n]), (AXIS,))


def check_batch_size(mesh: Mesh | None, batch_size: int) -> None:
    if mesh is not None and batch_size % mesh.size:
        raise ConfigError(f"config.inner.batch_size = {batch_size} is invalid: allowed a multiple of the "
                          f"{mesh.size} devices of config.inner.devices (each takes B / N samples)")


class DataParallel:
    """Places arguments on a mesh and wraps the engine's jitted pieces with those placements."""

    def __init__(self, mesh: Mesh):
        self.mesh, self.n = mesh, mesh.size
        self.replicated = NamedSharding(mesh, P())
        self.on_batch = NamedSharding(mesh, P(None, AXIS))   # (K, B, ...): split B
        self.on_rows = NamedSharding(mesh, P(AXIS))          # (N, ...): split N
        # what the host reads must be addressable by every process (one process: leave it split)
        single = jax.process_count() == 1
        self.host_batch = self.on_batch if single else self.replicated
        self.host_rows = self.on_rows if single else self.replicated

    def put(self, tree, sharding):
        return jax.tree_util.tree_map(lambda a: _put(a, sharding), tree)

    def rows_or_replicated(self, tree):
        """A (N, ...) batch split on N when N divides evenly (the validation set), else replicated."""
        n = jax.tree_util.tree_leaves(tree)[0].shape[0]
        return self.put(tree, self.on_rows if n % self.n == 0 else self.replicated)

    def inner(self, jitted, has_dX: bool):
        """meta_grad / train_only: (params, opt_state, X, val_batch) -> (L, [dX,] params, opt_state, losses)."""
        r = self.replicated
        out = (r, self.host_batch, r, r, r) if has_dX else (r, r, r, r)
        fn = jax.jit(jitted, out_shardings=out)

        def run(params, opt_state, batches, val_batch):
            return fn(self.put(params, r), self.put(opt_state, r), self.put(batches, self.on_batch),
                      self.rows_or_replicated(val_batch))

        return run

    def predict(self, jitted):
        """(params, x) -> final output for x (N, ...); N padded to a multiple of the devices."""
        fn = jax.jit(jitted, out_shardings=self.host_rows)

        def run(params, x):
            x = np.asarray(x)
            n = x.shape[0]
            pad = -n % self.n
            if pad:
                x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])
            return fn(self.put(params, self.replicated), _put(x, self.on_rows))[:n]

        return run


def _put(a, sharding):
    if isinstance(a, jax.Array) and a.sharding == sharding:
        return a
    if jax.process_count() == 1:
        return jax.device_put(a, sharding)
    host = np.asarray(a)        # the same value on every process: each takes its devices' shards
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])
