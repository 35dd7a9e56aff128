"""Process settings made before JAX allocates: they matter on a small shared CPU machine."""
from __future__ import annotations

import ctypes


def tune_malloc() -> bool:
    """Keep freed heap memory in the process (glibc only); False where mallopt is unavailable.

    glibc hands any freed block above 32 MB back to the OS, and a training step's XLA temporaries
    (40-70 MB for the default hourglass) then come back as fresh pages on every call: 10-17k page
    faults, ~10 ms of a ~40 ms step (benchmarks/train_step.py). No mmap'd blocks, a 1 GiB trim
    threshold and one arena keep them in the heap.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max, m_arena_max = -1, -4, -8
        return all(libc.mallopt(opt, value) for opt, value in
                   ((m_mmap_max, 0), (m_trim_threshold, 1 << 30), (m_arena_max, 1)))
    except (OSError, AttributeError):
        return False


DEFAULT_COMPILE_CACHE = "~/.cache/hg_jax/xla"
COMPILE_CACHE_ENV = "HG_JAX_COMPILE_CACHE"


def compile_cache_dir(flag: str | None = None) -> str:
    """The cache directory to use: ``flag`` if given (``""`` disables), else $HG_JAX_COMPILE_CACHE
    (``""`` disables), else ~/.cache/hg_jax/xla. Returns "" when disabled."""
    import os

    value = flag if flag is not None else os.environ.get(COMPILE_CACHE_ENV, DEFAULT_COMPILE_CACHE)
    return os.path.abspath(os.path.expanduser(value)) if value else ""


def enable_compile_cache(flag: str | None = None, min_compile_secs: float = 0.5) -> str:
    """Turn on JAX's persistent compilation cache in ``compile_cache_dir(flag)``; returns the
    directory ("" if disabled). Call before the first jit compiles.

    The default configs' meta-gradient takes minutes to compile on a 2-core CPU and is the same
    program in every run and seed of an experiment, so a second run loads it instead. Loading is
    not free: benchmarks/compile.py's "warm" figure is tens of seconds for the meta-gradient, most
    of it XLA:CPU rebuilding its YNNPACK fusion thunks from the serialized executable (a profile
    shows a linear search over the module's instructions per thunk); tracing and lowering (also
    tens of seconds) are paid either way, since the cache key is the lowered program.
    The threshold is low so that the train / predict functions (seconds each) are cached too; tiny
    programs are not worth a disk write.
    """
    path = compile_cache_dir(flag)
    if not path:
        return ""
    import os

    import jax

    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_secs))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
