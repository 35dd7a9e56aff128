import os
import sys

import jax
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


@pytest.fixture
def x64():
    """float64 for finite-difference checks; restores the previous mode afterwards."""
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)


@pytest.fixture(scope="session")
def shared_data():
    """Path of the real data beside the repo (../shared/data), or $HG_JAX_DATA."""
    path = os.environ.get("HG_JAX_DATA", os.path.join(REPO, "..", "shared", "data"))
    if not os.path.isdir(path):
        raise FileNotFoundError(f"real data not found at {path}: set HG_JAX_DATA or place shared/ beside the repo")
    return path


def load_config(name: str, variant: str = ""):
    """configs/<name>.py's get_config(variant), loaded by path as launch.py does."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"cfg_{name}", os.path.join(REPO, "configs", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.get_config(variant)
