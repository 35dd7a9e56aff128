"""Compile a jitted piece in a background thread while the run does other work.

The default experiments' meta-gradient takes one to two minutes to lower and compile on a 2-core
CPU (benchmarks/compile.py) and nothing needs it until the hybrid row's first β update. Lowering
with the shapes the call will pass and compiling fills the same jit's caches, so the later call
runs without compiling again (tests/test_precompile.py checks this with jax's compile events);
meanwhile the main thread renders, compiles the plain training step and trains the rows and
warm-up steps that never call the meta-gradient.
"""
from __future__ import annotations

import sys
import threading
import time

import jax
import jax.numpy as jnp

_STARTED: set = set()      # (id of the jitted function, argument spec): compiled or compiling here
# what a call that is not served from the jit's caches records: tracing, lowering, compiling (or
# loading from the persistent cache)
WORK_EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
               "/jax/core/compile/backend_compile_duration", "/jax/compilation_cache/cache_retrieval_time_sec")
_watch = threading.local()
_listening = False


def _on_event(event: str, duration: float, **_):
    seen = getattr(_watch, "events", None)
    if seen is not None and event in WORK_EVENTS:
        seen.append(event)


def _watch_events() -> list:
    """Start collecting this thread's compile work events into the returned list."""
    global _listening
    if not _listening:
        jax.monitoring.register_event_duration_secs_listener(_on_event)
        _listening = True
    _watch.events = []
    return _watch.events


def spec(args) -> tuple:
    """What decides which executable a call uses: tree structure, shapes, dtypes."""
    leaves, tree = jax.tree_util.tree_flatten(args)
    return tree, tuple((tuple(l.shape), jnp.dtype(l.dtype).name) for l in leaves)


class Ahead:
    """``fn`` (a jax.jit function), compiled for ``args`` (arrays or ShapeDtypeStructs) in a
    background thread; the first call waits for that compile. Anything else passes through."""

    def __init__(self, fn, args, name: str):
        self.fn, self.name, self._spec = fn, name, spec(args)
        self.error: BaseException | None = None
        self.compile_s: float | None = None
        self.waited_s = 0.0
        self.first_call_work: list[str] | None = None   # WORK_EVENTS of the first call: [] if served ready
        self._checked = False
        self._thread = threading.Thread(target=self._compile, args=(args,), daemon=True,
                                        name=f"precompile-{name}")
        self._thread.start()

    def _compile(self, args):
        t = time.perf_counter()
        try:
            self.fn.lower(*args).compile()
        except Exception as e:  # noqa: BLE001 — the real call compiles again and raises in its thread
            self.error = e
        self.compile_s = time.perf_counter() - t

    def wait(self) -> None:
        if self._thread.is_alive():
            t = time.perf_counter()
            self._thread.join()
            self.waited_s += time.perf_counter() - t

    def __call__(self, *args):
        if self._checked:
            return self.fn(*args)
        self.wait()
        self._checked = True
        events = _watch_events()
        try:
            return self.fn(*args)
        finally:
            _watch.events = None
            self.first_call_work = list(events)
            if events:
                print(f"warning: {self.name} was compiled in the background but its first call traced or "
                      f"compiled again ({sorted(set(events))}); argument specs "
                      f"{'match' if spec(args) == self._spec else 'differ'} (hg_jax/core/precompile.py)",
                      file=sys.stderr)

    def __getattr__(self, attr):
        return getattr(self.fn, attr)


def ahead(fn, args, name: str):
    """``Ahead(fn, args)``, or ``fn`` itself when there is nothing to gain: not a jax.jit function
    (the data-parallel wrappers), or already compiled or compiling in this process for ``args``
    (e.g. the timed runs of benchmarks/compare.py after its warm-up), so that no timed row shares
    the CPU with a redundant compile."""
    key = (id(fn), spec(args))
    if not hasattr(fn, "lower") or key in _STARTED:
        return fn
    _STARTED.add(key)
    return Ahead(fn, args, name)


def render_batch(lead: tuple, height: int, width: int, in_c: int, out_c: int) -> dict:
    """The shapes of stacked renders (float32, hg_jax.generators.base.stack_samples) with leading
    axes ``lead``: image, target, mask."""
    return {k: jax.ShapeDtypeStruct(tuple(lead) + (height, width, ch), jnp.float32)
            for k, ch in (("image", in_c), ("target", out_c), ("mask", 1))}


def abstract_outer_args(trainer, input_shape) -> tuple:
    """The (params, opt_state, X, val) an outer step passes meta_grad / train_only, as shapes:
    X is K × B renders of ``input_shape``'s size."""
    params, opt_state = jax.eval_shape(lambda key: trainer.init(key, tuple(input_shape)), jax.random.PRNGKey(0))
    h, w, c = tuple(input_shape)[1:]
    X = render_batch(trainer.batch_shape, h, w, c, trainer.task.out_channels)
    val = {k: jax.ShapeDtypeStruct(v.shape, v.dtype) for k, v in trainer.val_batch.items()}
    return params, opt_state, X, val
