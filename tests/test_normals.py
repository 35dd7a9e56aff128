"""Normal metrics against hand-worked values; the loss, its masking and its gradients (float64 differences)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hg_jax.tasks.normals import NormalsTask


def _rotation(axis, deg):
    """Rodrigues: rotation by ``deg`` about the unit vector ``axis``."""
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    a = np.radians(deg)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K


def _random_unit(rng, shape):
    v = rng.normal(size=shape + (3,))
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_metrics_of_errors_0_10_20_40_with_a_masked_90():
    # 4 valid pixels with errors 0°, 10°, 20°, 40°, one masked-out pixel with a 90° error
    target = np.tile([0.0, 0.0, 1.0], (1, 1, 5, 1))
    pred = np.stack([_rotation([1, 0, 0], d) @ [0, 0, 1] for d in (0, 10, 20, 40, 90)])[None, None]
    mask = np.array([1, 1, 1, 1, 0], float).reshape(1, 1, 5, 1)
    m = NormalsTask().metrics(pred * 3.0, {"target": target, "mask": mask})   # scale must not matter
    assert m["mean_angle"] == pytest.approx(17.5)
    assert m["median_angle"] == pytest.approx(15.0)
    assert m["within_11.25"] == pytest.approx(50.0)
    assert m["within_22.5"] == pytest.approx(75.0)
    assert m["within_30"] == pytest.approx(75.0)
    # |p - t|^2 = 2 - 2 cos θ per pixel, averaged over the 3 components
    expected = np.mean([2 - 2 * np.cos(np.radians(d)) for d in (0, 10, 20, 40)])   # ‖p − t‖², paper convention
    assert m["mse"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="no pixel"):
        NormalsTask().metrics(pred, {"target": target, "mask": mask * 0})


@pytest.mark.parametrize("axis,deg", [([0, 0, 1], 25.0), ([1, 2, -0.5], 11.0), ([0.3, -1, 0], 29.0)])
def test_pred_rotated_by_a_known_angle(axis, deg):
    """Normals perpendicular to the axis, rotated about it: every pixel errs by exactly ``deg``."""
    rng = np.random.default_rng(1)
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    t = _random_unit(rng, (2, 3, 4))
    t = t - (t @ k)[..., None] * k
    t /= np.linalg.norm(t, axis=-1, keepdims=True)
    pred = t @ _rotation(k, deg).T
    batch = {"target": t, "mask": np.ones((2, 3, 4, 1))}
    m = NormalsTask().metrics(pred, batch)
    assert m["mean_angle"] == pytest.approx(deg, abs=1e-6)
    assert m["median_angle"] == pytest.approx(deg, abs=1e-6)
    assert m["mse"] == pytest.approx(2 - 2 * np.cos(np.radians(deg)))
    assert [m["within_11.25"], m["within_22.5"], m["within_30"]] == [100.0 * (deg <= th) for th in (11.25, 22.5, 30)]
    loss = NormalsTask().loss(jnp.asarray(pred, jnp.float32), {k: jnp.asarray(v, jnp.float32) for k, v in batch.items()})
    assert float(loss) == pytest.approx(1 - np.cos(np.radians(deg)), abs=1e-5)


def test_metrics_pool_pixels_over_the_batch_not_images():
    # image 0: 3 valid pixels with 5° error; image 1: 1 valid pixel with 45° error (and 3 masked)
    z = np.array([0.0, 0.0, 1.0])
    target = np.tile(z, (2, 1, 4, 1))
    pred = np.empty_like(target)
    pred[0] = _rotation([0, 1, 0], 5) @ z
    pred[1] = _rotation([0, 1, 0], 45) @ z
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0]], float).reshape(2, 1, 4, 1)
    m = NormalsTask().metrics(pred, {"target": target, "mask": mask, "image": np.zeros((2, 1, 4, 1))})
    assert m["mean_angle"] == pytest.approx((3 * 5 + 45) / 4)    # per-image means would give 25
    assert m["median_angle"] == pytest.approx(5.0)
    assert m["within_11.25"] == pytest.approx(75.0)


def test_loss_ignores_masked_pixels_and_weights_fractional_masks():
    rng = np.random.default_rng(2)
    t = _random_unit(rng, (1, 2, 2))
    pred = _random_unit(rng, (1, 2, 2))
    mask = np.array([1.0, 0.0, 0.25, 1.0]).reshape(1, 2, 2, 1)
    task = NormalsTask()
    f = lambda p: float(task.loss(jnp.asarray(p), {"target": jnp.asarray(t), "mask": jnp.asarray(mask)}))
    one_minus_cos = 1 - np.sum(pred * t, axis=-1).ravel()
    assert f(pred) == pytest.approx(np.sum(one_minus_cos * mask.ravel()) / mask.sum(), abs=1e-6)
    changed = pred.copy()
    changed[0, 0, 1] = -t[0, 0, 1]                              # the masked pixel, now 180° off
    assert f(changed) == pytest.approx(f(pred), abs=1e-7)
    assert f(pred * 7.0) == pytest.approx(f(pred), abs=1e-6)       # scale of pred does not matter
    with pytest.raises(ValueError, match="expected pred"):
        task.loss(jnp.zeros((1, 2, 2, 3)), {"target": jnp.zeros((1, 2, 2, 3)), "mask": jnp.zeros((1, 2, 2))})


def test_loss_value_and_gradients(x64):
    rng = np.random.default_rng(0)
    batch = {"image": jnp.zeros((2, 4, 4, 1)), "target": jnp.asarray(_random_unit(rng, (2, 4, 4))),
             "mask": jnp.asarray((rng.uniform(size=(2, 4, 4, 1)) > 0.3).astype(float))}
    pred = jnp.asarray(rng.normal(size=(2, 4, 4, 3)))
    task = NormalsTask()
    assert task.loss(pred, batch).dtype == jnp.float64
    assert float(task.loss(batch["target"] * 2.0, batch)) == pytest.approx(0.0, abs=1e-6)
    assert float(task.loss(-batch["target"], batch)) == pytest.approx(2.0, abs=1e-6)
    g_pred, g_batch = jax.grad(lambda p, b: task.loss(p, b), argnums=(0, 1))(pred, batch)
    checks = [("pred", g_pred, pred, lambda v: task.loss(v, batch)),
              ("target", g_batch["target"], batch["target"], lambda v: task.loss(pred, {**batch, "target": v})),
              ("mask", g_batch["mask"], batch["mask"], lambda v: task.loss(pred, {**batch, "mask": v}))]
    for name, g, x, f in checks:
        assert np.all(np.isfinite(g)), name
        assert np.any(np.abs(g) > 1e-3), name                       # a real gradient, not zeros
        for _ in range(4):
            idx = tuple(int(rng.integers(n)) for n in x.shape)
            e = jnp.zeros_like(x).at[idx].set(1e-6)
            fd = (float(f(x + e)) - float(f(x - e))) / 2e-6
            assert fd == pytest.approx(float(g[idx]), rel=1e-5, abs=1e-9), (name, idx)
    assert np.all(g_batch["image"] == 0)
    g0 = jax.grad(lambda p: task.loss(p, batch))(jnp.zeros_like(pred))
    assert np.all(np.isfinite(g0)) and np.any(g0 != 0)              # a zero prediction still learns
