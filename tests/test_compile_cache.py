"""The persistent compilation cache: directory choice (flag, env, default, disabled) and that a
compiled function lands in it (in a subprocess: jax's cache settings are process-global)."""
import os
import subprocess
import sys

from hg_jax import runtime


def test_cache_directory_choice(monkeypatch, tmp_path):
    monkeypatch.delenv(runtime.COMPILE_CACHE_ENV, raising=False)
    assert runtime.compile_cache_dir() == os.path.expanduser("~/.cache/hg_jax/xla")
    monkeypatch.setenv(runtime.COMPILE_CACHE_ENV, str(tmp_path / "env"))
    assert runtime.compile_cache_dir() == str(tmp_path / "env")
    assert runtime.compile_cache_dir(str(tmp_path / "flag")) == str(tmp_path / "flag")
    assert runtime.compile_cache_dir("") == ""
    monkeypatch.setenv(runtime.COMPILE_CACHE_ENV, "")
    assert runtime.compile_cache_dir() == ""


def test_compiled_function_is_written_to_the_cache(tmp_path):
    code = ("import jax, jax.numpy as jnp\n"
            "from hg_jax.runtime import enable_compile_cache\n"
            f"enable_compile_cache({str(tmp_path)!r}, min_compile_secs=0)\n"
            "print(jax.jit(lambda x: jnp.sin(x) * 2)(jnp.ones(3)))\n")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert os.listdir(tmp_path)
