"""benchmarks/beta_snr.py's bookkeeping: one name per β coordinate in schema order, and the t
statistic it resolves coordinates by."""
import importlib.util
import os

import numpy as np

from hg_jax.generators.csg import SCHEMA as CSG

_spec = importlib.util.spec_from_file_location(
    "beta_snr", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "beta_snr.py"))
beta_snr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(beta_snr)


def test_one_name_per_coordinate_in_schema_order():
    names = beta_snr.coordinate_names(CSG)
    assert len(names) == CSG.size
    for name, sl in CSG.slices().items():
        got = names[sl]
        assert got == ([name] if sl.stop - sl.start == 1 else [f"{name}[{i}]" for i in range(sl.stop - sl.start)])


def test_t_statistic_is_mean_over_standard_error():
    x = np.array([[1.0, 2.0, 0.0], [3.0, 2.0, 0.0], [2.0, 2.0, 0.0]])
    t = beta_snr.t_stat(x)
    assert np.isclose(t[0], 2.0 / (1.0 / np.sqrt(3)))
    assert np.isinf(t[1])                 # no spread, nonzero mean: resolved
    assert t[2] == 0                      # no spread, zero mean: never "resolved"
