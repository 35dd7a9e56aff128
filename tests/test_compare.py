"""benchmarks/compare.py: the checks that make a figure evidence, P1, and a real run on the toy."""
import json
import os

import numpy as np
import pytest

from benchmarks import compare


def _row(method="hybrid", skipped=0, beta=(1.0, 2.0), beta0=(0.0, 0.0), digest="abc"):
    return {"row": {"method": method, "skipped_updates": skipped, "beta": list(beta), "beta_initial": list(beta0),
                    "init_digest": digest},
            "lines": [{"val_loss": 0.5, "beta_update_applied": True}]}


def test_frozen_beta_comparison_fails_loudly():
    # the state of the old compare_mbii.json: hybrid skipped every update, so β never moved
    runs = {0: {"hybrid": _row(skipped=15, beta=(0.0, 0.0)), "random_search": _row("random_search")}}
    with pytest.raises(compare.ComparisonError, match="15 skipped β updates"):
        compare.check_rows(runs)


def test_unmoved_beta_and_different_starts_fail():
    with pytest.raises(compare.ComparisonError, match="did not move"):
        compare.check_rows({0: {"hybrid": _row(beta=(0.0, 0.0))}})
    with pytest.raises(compare.ComparisonError, match="different"):
        compare.check_rows({0: {"hybrid": _row(), "fixed": _row("fixed", digest="other")}})
    with pytest.raises(compare.ComparisonError, match="different"):
        compare.check_rows({0: {"hybrid": _row(), "fixed": _row("fixed", beta0=(1.0, 0.0), beta=(1.0, 0.0))}})
    assert compare.check_rows({0: {"hybrid": _row(), "fixed": _row("fixed", beta=(0.0, 0.0))}})


def test_p1_is_the_ratio_of_times_to_random_searchs_final_value():
    rs = {"value": [1.0, 0.9, 0.8, 0.7, 0.6, 0.5], "wall_s": [10, 20, 30, 40, 50, 60], "renders": [0] * 6,
          "step": list(range(1, 7))}
    hy = {"value": [1.0, 0.5, 0.4, 0.4, 0.3, 0.3], "wall_s": [5, 10, 15, 20, 25, 30], "renders": [0] * 6,
          "step": list(range(1, 7))}
    p = compare.p1(hy, rs)
    target = np.mean([0.7, 0.6, 0.5])
    assert p["target"] == pytest.approx(target)
    assert p["random_search"] == 60               # its smoothed curve reaches its last value at the end
    assert p["hybrid"] == 20                       # running means 1, .75, .633, .433: first ≤ 0.6 at 20 s
    assert p["ratio"] == pytest.approx(20 / 60)
    never = compare.p1({**hy, "value": [2.0] * 6}, rs)
    assert never["ratio"] is None


def test_failing_all_skipped_run_is_flagged_in_the_report(tmp_path):
    """A real run whose every β update is skipped says so in report.json, and compare refuses it."""
    import dataclasses

    from hg_jax import experiments
    from hg_jax.experiment import run
    from tests.conftest import load_config
    from tests.test_faults import NaNAboveThreshold

    c = load_config("toy", "small")
    with c.unlocked():
        c.outer_steps, c.eval_every = 3, 3
    setup = experiments.build(c)
    beta0 = setup.beta0
    bad = NaNAboveThreshold(size=setup.sampler.size, num_blobs=setup.sampler.num_blobs,
                            threshold=float(beta0[0]) - 10.0)          # every ± render is NaN
    setup = dataclasses.replace(setup, sampler=bad)
    report = run(c, str(tmp_path / "run"), setup=setup)
    row = report["rows"]["hybrid"]
    assert row["all_beta_updates_skipped"] and row["skipped_updates"] == 3
    lines = [json.loads(l) for l in open(tmp_path / "run" / "metrics.jsonl")]
    with pytest.raises(compare.ComparisonError):
        compare.check_rows({0: {"hybrid": {"row": row, "lines": lines}}})


@pytest.mark.slow
def test_compare_on_the_toy_writes_curves_p1_and_checks(tmp_path, monkeypatch):
    monkeypatch.setattr(compare, "RESULTS", str(tmp_path / "results"))
    compare.main(["--config", os.path.join(compare.ROOT, "configs", "toy.py:small"), "--seeds", "0,1,2",
                  "--methods", "hybrid,random_search,fixed", "--outer-steps", "6",
                  "--workdir", str(tmp_path / "runs")])
    result = json.load(open(tmp_path / "results" / "compare_toy.json"))
    assert result["seeds"] == [0, 1, 2] and result["outer_steps"] == 6
    for m in ("hybrid", "random_search", "fixed"):
        for s in ("0", "1", "2"):
            assert result["rows"][m][s]["skipped_updates"] == 0
            c = result["curves"][m][s]["beta_error"]
            assert len(c["value"]) == 6 and c["renders"][-1] > c["renders"][0]
    # every method of a seed started from the same network and β0
    assert len({result["rows"][m]["0"]["init_digest"] for m in ("hybrid", "random_search", "fixed")}) == 1
    assert result["rows"]["fixed"]["0"]["beta_error"]["end"] == result["rows"]["fixed"]["0"]["beta_error"]["start"]
    assert set(result["p1"]) == {"beta_error", "test_loss", "beta_error (renders)", "test_loss (renders)"} and len(result["p1"]["beta_error"]["per_seed"]) == 3
    assert os.path.exists(tmp_path / "results" / "compare_toy.png")
