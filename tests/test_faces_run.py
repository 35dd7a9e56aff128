"""The face-depth experiment end to end on CPU: face model grammar, real renderer, hourglass, the real
face scan re-rendered (paper §5.3)."""
import json

import jax.numpy as jnp
import numpy as np
import pytest

from hg_jax.data import scans
from hg_jax.experiment import run
from hg_jax.tasks.depth import DepthTask
from tests.conftest import load_config

DEPTH_METRICS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "si_log")


def test_depth_offset_is_only_a_shift_of_the_output():
    """DepthTask(offset=o) on output x equals DepthTask() on x + o: loss and metrics stay absolute."""
    rng = np.random.default_rng(0)
    t = rng.uniform(50, 70, (2, 4, 4, 1)).astype(np.float32)
    m = (rng.uniform(size=t.shape) > 0.3).astype(np.float32)
    x = rng.uniform(5, 30, t.shape).astype(np.float32)
    batch = {"image": np.zeros_like(t), "target": t * m, "mask": m}
    a, b = DepthTask(offset=40.0), DepthTask()
    assert float(a.loss(jnp.asarray(x), batch)) == pytest.approx(float(b.loss(jnp.asarray(x + 40.0), batch)),
                                                                 rel=1e-5)
    ma, mb = a.metrics(x, batch), b.metrics(x + 40.0, batch)
    for k in mb:
        assert ma[k] == pytest.approx(mb[k], rel=1e-6)
    with pytest.raises(ValueError):
        DepthTask(offset=-1.0)


@pytest.mark.slow
def test_small_faces_run_end_to_end(tmp_path, shared_data):
    c = load_config("faces", "small")
    c.data.scans_root = f"{shared_data}/faces/scans"
    rep = run(c, str(tmp_path))
    for f in ("report.json", "metrics.jsonl", "samples.png"):
        assert (tmp_path / f).exists()
    lines = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
    assert len(lines) == c.outer_steps
    assert lines[-1]["render_s"] > 0 and lines[-1]["compute_s"] > 0
    assert all(np.all(np.isfinite(l["beta"])) and np.isfinite(l["val_loss"]) for l in lines)
    assert set(rep["metrics"]) == {"scans_test"}
    m = rep["metrics"]["scans_test"]
    for k in DEPTH_METRICS:
        assert np.isfinite(m[k]) and m[k] >= 0, (k, m[k])
    # depth ~50-70 cm: an untrained-ish network is off by at most ~the whole depth, not orders more
    assert m["abs_rel"] < 1.5 and m["rmse"] < 80 and m["rmse_log"] < 3 and m["si_log"] < 1
    assert 0 <= m["delta1"] <= m["delta2"] <= m["delta3"] <= 1
    assert not np.allclose(rep["rows"]["hybrid"]["beta_initial"], rep["beta"])      # β changed
    assert any("disjoint head poses" in n and "tiny" in n for n in rep["notes"])

    # the scans format of the evaluation CLI: every view of the one embedded scan, rendered as in the run
    config = json.loads(json.dumps(rep["config"]))
    from hg_jax.experiments.faces import setup as faces

    gen, data = faces.generator(config["data"]), config["data"]
    views = scans.load_scans_format(f"{shared_data}/faces/scans", gen, image=data["input"],
                                    normalize=data["normalize"])
    assert len(views["names"]) == 27 == views["image"].shape[0]
    assert views["image"].shape[1:] == (c.data.size, c.data.size, 1)
    assert views["target"].shape == views["mask"].shape == (27, c.data.size, c.data.size, 1)
    d = views["target"][views["mask"] > 0.5]
    assert 40 < d.min() and d.max() < 80                                                # cm
    # its test split, through the trained checkpoint as the evaluation CLI does, gives the run's metrics
    import ml_collections

    from hg_jax import checkpoint

    cfg, params = checkpoint.load_trained(str(tmp_path), None)
    _, apply_fn, task = faces.network_and_task(ml_collections.ConfigDict(cfg))
    test = scans.split_views(views, "test")
    pred = np.asarray(apply_fn(params, jnp.asarray(test["image"]))[-1])
    assert task.metrics(pred, test)["abs_rel"] == pytest.approx(m["abs_rel"], rel=1e-4)
    sub = scans.load_scans_format(f"{shared_data}/faces/scans", gen, image=data["input"],
                                  normalize=data["normalize"], objects="james", views=5, task="depth")
    assert len(sub["names"]) == 5
    with pytest.raises(ValueError):
        scans.load_scans_format(f"{shared_data}/faces/scans", gen, image=data["input"],
                                normalize=data["normalize"], objects="nobody")
