"""benchmarks/compare_report.py --retrain: the README's retrain table from hg_jax.retrain's JSON files."""
import json

import pytest

from benchmarks import compare_report


def _run(seed, loss, angle, val):
    return {"seed": seed, "val_loss": val, "test": {"beta_star_test": {"loss": loss, "mean_angle": angle}}}


def _write(path, row, runs):
    path.write_text(json.dumps({"row": row, "runs": runs}))
    return str(path)


def test_retrain_table_groups_rows_and_seeds_across_files(tmp_path):
    paths = [
        _write(tmp_path / "h1.json", "hybrid", {"final": [_run(1, 0.30, 30.0, 0.5)], "beta0": [_run(1, 0.40, 40.0, 0.6)],
                                               "random": [_run(1, 0.50, 50.0, 0.7)]}),
        _write(tmp_path / "h0.json", "hybrid", {"final": [_run(0, 0.10, 10.0, 0.3)], "beta0": [_run(0, 0.20, 20.0, 0.4)],
                                               "random": [_run(0, 0.30, 30.0, 0.5)]}),
        _write(tmp_path / "r0.json", "random_search", {"final": [_run(0, 0.05, 5.0, 0.2)]}),
    ]
    lines = compare_report.retrain(paths).splitlines()
    rows = [l.split(" | ")[0].lstrip("| ") for l in lines[2:]]
    assert rows == ["hybrid's final β", "random search's final β", "β0", "random β"]
    # seeds in order whatever the file order; population std (0.1 ± 0.1 for 0.1 and 0.3)
    assert "| 0.1000 / 0.3000 | 0.2000 ± 0.1000 | 20.00 ± 10.00 | 0.3000 / 0.5000 |" in lines[2]
    assert "| 0.0500 | 0.0500 ± 0.0000 | 5.00 ± 0.00 | 0.2000 |" in lines[3]


def test_main_dispatches_retrain(tmp_path, capsys):
    path = _write(tmp_path / "h.json", "hybrid", {"final": [_run(0, 0.1, 10.0, 0.3)]})
    compare_report.main(["--retrain", path])
    assert "hybrid's final β" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError):
        compare_report.main(["--retrain", str(tmp_path / "missing.json")])


def test_controlled_seed_line_shows_where_beta_error_was_lowest():
    curve = {"step": [1.0, 2.0, 3.0, 4.0], "value": [10.0, 4.0, 2.0, 6.0]}
    result = {"command": "python benchmarks/compare.py", "outer_steps": 4, "seeds": [0],
              "final": {"hybrid": {"beta_error_start": {"mean": 10.0}, "beta_error_end": {"mean": 6.0, "std": 0.0},
                                   "test": {"t": {"loss": {"mean": 0.1, "std": 0.0}, "mean_angle": {"mean": 20.0, "std": 0.0}}},
                                   "best_test": {"t": {"loss": {"mean": 0.1, "std": 0.0}}},
                                   "wall_s": {"mean": 1.0}, "renders": {"mean": 8.0}}},
              "claims": {"0": {"beta_error_ratio": 0.6}}, "curves": {"hybrid": {"0": {"beta_error": curve}}}}
    text = compare_report.controlled(result)
    assert "seed 0: hybrid beta_error end / start 0.60 (lowest 0.20, at step 3)" in text
    del result["curves"]                   # older JSON without curves: the line as before
    assert "lowest" not in compare_report.controlled(result)
