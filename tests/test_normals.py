"""Normal metrics against hand-worked values; the loss and its gradients (float64 differences)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hg_jax.tasks.normals import NormalsTask


def _rot_x(deg):
    a = np.radians(deg)
    return np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])


def test_metrics_hand_worked():
    # 4 valid pixels with errors 0°, 10°, 20°, 40°, one masked-out pixel with a 90° error
    target = np.tile([0.0, 0.0, 1.0], (1, 1, 5, 1))
    pred = np.stack([_rot_x(d) @ [0, 0, 1] for d in (0, 10, 20, 40, 90)])[None, None]
    mask = np.array([1, 1, 1, 1, 0], float).reshape(1, 1, 5, 1)
    m = NormalsTask().metrics(pred * 3.0, {"target": target, "mask": mask})   # scale must not matter
    assert m["mean_angle"] == pytest.approx(17.5)
    assert m["median_angle"] == pytest.approx(15.0)
    assert m["within_11.25"] == pytest.approx(50.0)
    assert m["within_22.5"] == pytest.approx(75.0)
    assert m["within_30"] == pytest.approx(75.0)
    # |p - t|^2 = 2 - 2 cos θ per pixel, averaged over 3 components
    expected = np.mean([(2 - 2 * np.cos(np.radians(d))) / 3 for d in (0, 10, 20, 40)])
    assert m["mse"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="no pixel"):
        NormalsTask().metrics(pred, {"target": target, "mask": mask * 0})


def test_loss_value_and_gradients(x64):
    rng = np.random.default_rng(0)
    batch = {"image": jnp.zeros((2, 4, 4, 1)), "target": jnp.asarray(rng.normal(size=(2, 4, 4, 3))),
             "mask": jnp.asarray((rng.uniform(size=(2, 4, 4, 1)) > 0.3).astype(float))}
    batch["target"] = batch["target"] / jnp.linalg.norm(batch["target"], axis=-1, keepdims=True)
    pred = jnp.asarray(rng.normal(size=(2, 4, 4, 3)))
    task = NormalsTask()
    assert float(task.loss(batch["target"] * 2.0, batch)) == pytest.approx(0.0, abs=1e-6)
    assert float(task.loss(-batch["target"], batch)) == pytest.approx(2.0, abs=1e-6)
    g_pred, g_batch = jax.grad(lambda p, b: task.loss(p, b), argnums=(0, 1))(pred, batch)
    for name, g, x, f in [("pred", g_pred, pred, lambda v: task.loss(v, batch)),
                          ("target", g_batch["target"], batch["target"], lambda v: task.loss(pred, {**batch, "target": v})),
                          ("mask", g_batch["mask"], batch["mask"], lambda v: task.loss(pred, {**batch, "mask": v}))]:
        assert np.all(np.isfinite(g)), name
        for _ in range(3):
            idx = tuple(int(rng.integers(n)) for n in x.shape)
            e = jnp.zeros_like(x).at[idx].set(1e-6)
            fd = (float(f(x + e)) - float(f(x - e))) / 2e-6
            assert fd == pytest.approx(float(g[idx]), rel=1e-5, abs=1e-9), (name, idx)
    assert np.all(np.isfinite(jax.grad(lambda p: task.loss(p, batch))(jnp.zeros_like(pred))))
