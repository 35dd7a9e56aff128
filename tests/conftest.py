import os
import sys
import tempfile

import jax
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# One persistent XLA cache per test session, fresh (a stale cache never hides a compile), shared by
# the xdist workers (they inherit the controller's environment) and every launch.py the tests start:
# the end-to-end tests compile the same :small programs several times.
_OWN_CACHE = "HG_JAX_COMPILE_CACHE" not in os.environ
if _OWN_CACHE:
    os.environ["HG_JAX_COMPILE_CACHE"] = tempfile.mkdtemp(prefix="hg_jax_test_xla_")
from hg_jax.runtime import enable_compile_cache  # noqa: E402

enable_compile_cache()


def pytest_sessionfinish(session):
    if _OWN_CACHE and not hasattr(session.config, "workerinput"):   # the controller, after its workers
        import shutil

        shutil.rmtree(os.environ["HG_JAX_COMPILE_CACHE"], ignore_errors=True)


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
