"""Common random numbers for the toy generator, and the β schema."""
import numpy as np
import pytest

from hg_jax.beta import BetaSchema
from hg_jax.generators.base import check_sample
from hg_jax.generators.toy import SCHEMA, ToySampler


def test_same_seed_same_sample_bit_identical():
    s = ToySampler()
    b = s.default_beta()
    a1, a2 = s(b, 7), s(b, 7)
    check_sample(a1)
    for k in a1:
        assert np.array_equal(a1[k], a2[k])
    assert not np.array_equal(s(b, 8)["image"], a1["image"])


def test_perturbation_vanishes_as_delta_goes_to_zero():
    s = ToySampler()
    b = s.default_beta()
    direction = np.random.default_rng(0).normal(size=b.shape)
    base = s(b, 3)["image"]
    diffs = [np.abs(s(b + eps * direction, 3)["image"] - base).max() for eps in (1e-1, 1e-2, 1e-3)]
    assert diffs[0] > diffs[1] > diffs[2]
    assert diffs[2] < 2e-2 * diffs[0]


def test_schema_round_trip_and_errors():
    schema = BetaSchema.of(("w", 3, "simplex"), ("mu", 2), ("s", 1, "positive"), ("p", 1, "prob"))
    values = {"w": [0.2, 0.3, 0.5], "mu": [1.0, -2.0], "s": 0.3, "p": 0.9}
    beta = schema.unconstrain(values)
    assert beta.shape == (schema.size,) == (7,)
    back = schema.constrained(beta)
    for k, v in values.items():
        np.testing.assert_allclose(back[k], np.broadcast_to(v, back[k].shape), rtol=1e-12)
    with pytest.raises(ValueError, match=r"expected shape \(7,\)"):
        schema.check(np.zeros(6))
    with pytest.raises(ValueError, match="positive"):
        schema.unconstrain({**values, "s": -1.0})
    with pytest.raises(ValueError, match="missing"):
        schema.unconstrain({"w": [1, 1, 1]})
    assert SCHEMA.names == ("size_mu", "size_sd", "bright_mu", "bright_sd")
