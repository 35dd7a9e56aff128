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


def enable_compile_cache(directory: str, min_compile_s: float = 1.0) -> None:
    """JAX's persistent compilation cache in ``directory``: a repeated compile is read from disk."""
    import os

    import jax

    os.makedirs(directory, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_s)
