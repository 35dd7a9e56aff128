"""IntrinsicTask's loss and metrics against hand-worked values; the MBII intrinsic loader on the data."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hg_jax.data import mbii_intrinsic as mi
from hg_jax.tasks.intrinsic import IntrinsicTask, si_rmse

TASK = IntrinsicTask()


def _hand_batch():
    """One image, three pixels; the third is masked out and holds garbage."""
    pred = np.array([[[[0.5, 0.5, 0.5, 1.0], [0.2, 0.4, 0.6, 2.0], [9.0, 9.0, 9.0, 9.0]]]], np.float32)
    target = np.array([[[[0.4, 0.5, 0.7, 1.5], [0.2, 0.2, 0.2, 2.0], [0.0, 0.0, 0.0, 0.0]]]], np.float32)
    mask = np.array([[[[1.0], [1.0], [0.0]]]], np.float32)
    image = np.array([[[[0.6, 0.4, 0.4], [0.4, 0.8, 1.0], [5.0, 5.0, 5.0]]]], np.float32)
    return pred, {"image": image, "target": target, "mask": mask}


def test_loss_hand_worked():
    pred, batch = _hand_batch()
    # albedo errors (0.1, 0, -0.2), (0, 0.2, 0.4): squares sum 0.25 over 6 values; shading (-0.5, 0)
    want = 0.25 / 6 + 0.25 / 2
    got = float(TASK.loss(jnp.asarray(pred), {k: jnp.asarray(v) for k, v in batch.items()}))
    assert got == pytest.approx(want, rel=1e-6)


def test_metrics_hand_worked():
    pred, batch = _hand_batch()
    m = TASK.metrics(pred, batch)
    assert m["albedo_mae"] == pytest.approx(0.9 / 6, rel=1e-6)
    assert m["albedo_rmse"] == pytest.approx(np.sqrt(0.25 / 6), rel=1e-6)
    assert m["shading_mae"] == pytest.approx(0.25, rel=1e-6)
    assert m["shading_rmse"] == pytest.approx(np.sqrt(0.125), rel=1e-6)
    # albedo: p·t = 1.04, p·p = 1.31, t·t = 1.02 -> min_α |αp − t|² = 1.02 − 1.04²/1.31, over 6 values
    assert m["albedo_si_rmse"] == pytest.approx(np.sqrt((1.02 - 1.04 ** 2 / 1.31) / 6), rel=1e-6)
    # shading: p = (1, 2), t = (1.5, 2): 6.25 − 5.5²/5 = 0.2 over 2 values
    assert m["shading_si_rmse"] == pytest.approx(np.sqrt(0.1), rel=1e-6)
    # albedo × shading = (0.5, 0.5, 0.5), (0.4, 0.8, 1.2) vs image: errors (−0.1, 0.1, 0.1), (0, 0, 0.2)
    assert m["recon_mae"] == pytest.approx(0.5 / 6, rel=1e-6)
    assert m["recon_rmse"] == pytest.approx(np.sqrt(0.07 / 6), rel=1e-6)


def test_scale_invariant_rmse_is_per_image_and_ignores_scale():
    pred, batch = _hand_batch()
    t = batch["target"]
    valid = batch["mask"][..., 0] > 0.5
    one = si_rmse(pred[..., :3], t[..., :3], valid)
    assert si_rmse(3.0 * pred[..., :3], t[..., :3], valid) == pytest.approx(one, rel=1e-6)
    # a second image predicted exactly up to a scale contributes 0 to the mean over images
    p2 = np.concatenate([pred, 2.5 * t])
    t2 = np.concatenate([t, t])
    v2 = np.concatenate([valid, valid])
    assert si_rmse(p2[..., :3], t2[..., :3], v2) == pytest.approx(one / 2, rel=1e-6)
    assert si_rmse(np.zeros_like(t[..., :3]), t[..., :3], valid) == pytest.approx(
        np.sqrt(1.02 / 6), rel=1e-6)                               # α = 0 for an all-zero prediction


def test_gray_input_reconstruction_uses_luminance():
    pred, batch = _hand_batch()
    lum = batch["image"] @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    m = IntrinsicTask(in_channels=1).metrics(pred, {**batch, "image": lum[..., None]})
    rec = (pred[..., :3] @ np.array([0.2126, 0.7152, 0.0722])) * pred[..., 3]
    want = np.abs(rec - lum)[0, 0, :2].mean()
    assert m["recon_mae"] == pytest.approx(want, rel=1e-6)


def test_loss_is_differentiable_in_every_batch_entry():
    pred, batch = _hand_batch()
    b = {k: jnp.asarray(v) for k, v in batch.items()}
    g = jax.grad(lambda p, bb: TASK.loss(p, bb), argnums=(0, 1))(jnp.asarray(pred), b)
    assert np.all(np.isfinite(np.asarray(g[0]))) and np.abs(np.asarray(g[0])).sum() > 0
    assert np.abs(np.asarray(g[1]["target"])).sum() > 0 and np.abs(np.asarray(g[1]["mask"])).sum() > 0
    assert np.all(np.asarray(g[0])[0, 0, 2] == 0)                 # masked pixel gets no gradient


def test_bad_shapes_raise():
    pred, batch = _hand_batch()
    with pytest.raises(ValueError, match="albedo RGB, shading"):
        TASK.loss(jnp.asarray(pred[..., :3]), {**batch, "target": batch["target"][..., :3]})
    with pytest.raises(ValueError, match="in_channels"):
        IntrinsicTask(in_channels=2)
    with pytest.raises(ValueError, match="no pixel"):
        TASK.metrics(pred, {**batch, "mask": np.zeros_like(batch["mask"])})


# ---- real data -----------------------------------------------------------------------------------

def test_mbii_intrinsic_objects_are_consistent(shared_data):
    root = f"{shared_data}/mbii"
    d = mi.load_intrinsic_objects(root, ["apple", "paper1", "raccoon"], size=48)
    assert d["image"].shape == (3, 48, 48, 3) and d["target"].shape == (3, 48, 48, 4)
    assert d["mask"].shape == (3, 48, 48, 1) and d["names"] == ["apple", "paper1", "raccoon"]
    for i in range(3):
        m = d["mask"][i, ..., 0] > 0.5
        assert 0.1 < m.mean() < 0.9
        img, alb, sh = d["image"][i], d["target"][i, ..., :3], d["target"][i, ..., 3]
        assert np.percentile(img[m], 99) == pytest.approx(1.0, abs=0.02)   # normalised like renders
        assert alb[m].max() <= 1.0 and alb[m].min() >= 0 and sh[m].min() > 0
        assert np.all(d["target"][i][~m] == 0) and np.all(img[~m] == 0)
        recon = alb * sh[..., None]
        assert np.abs(recon - img)[m].mean() < 0.1 * img[m].mean()       # image ≈ albedo × shading
    # the real data are not trivially decomposable: albedo varies within the objects
    assert d["target"][..., :3][d["mask"][..., 0] > 0.5].std(0).mean() > 0.02


def test_mbii_intrinsic_split_and_errors(shared_data):
    root = f"{shared_data}/mbii"
    assert set(mi.TRAIN_OBJECTS).isdisjoint(mi.TEST_OBJECTS) and len(mi.TRAIN_OBJECTS) == 10
    d = mi.load_intrinsic_split(root, "train", size=16)
    assert d["names"] == list(mi.TRAIN_OBJECTS) and d["image"].shape == (10, 16, 16, 3)
    with pytest.raises(ValueError, match="split"):
        mi.load_intrinsic_split(root, "validation")
    with pytest.raises(ValueError, match="not-an-object"):
        mi.load_intrinsic_objects(root, ["not-an-object"])
    with pytest.raises(ValueError, match="size"):
        mi.load_intrinsic_objects(root, ["apple"], size=0)
    with pytest.raises(FileNotFoundError, match="MBII"):
        mi.load_intrinsic_objects(f"{shared_data}/no-such-folder", ["apple"])
