"""Every benchmark script imports against the current package layout (a moved module breaks a
script long before anyone runs the benchmarks)."""
import importlib.util
import os

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
SCRIPTS = sorted(f for f in os.listdir(BENCH) if f.endswith(".py") and f != "__init__.py")


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_script_imports(script):
    spec = importlib.util.spec_from_file_location(f"bench_{script[:-3]}", os.path.join(BENCH, script))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)   # top level only: main() runs under __main__
    if script != "common.py":
        assert callable(getattr(module, "main", None)), f"benchmarks/{script} has no main()"
