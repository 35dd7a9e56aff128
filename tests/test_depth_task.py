"""Depth task: masked MSE loss (jax) and Eigen et al. 2014 metrics against hand-worked values."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hg_jax.tasks.depth import DepthTask


def _b(x):
    return np.asarray(x, np.float32).reshape(1, 1, -1, 1)


def test_loss_hand_value_and_gradients():
    task = DepthTask()
    pred, target, mask = _b([2.0, 2.0, 1.0, 9.0]), _b([1.0, 2.0, 4.0, 0.0]), _b([1.0, 0.5, 1.0, 0.0])
    batch = {"image": np.zeros_like(pred), "target": target, "mask": mask}
    # (1·1² + 0.5·0² + 1·3²) / 2.5 = 10 / 2.5
    assert float(task.loss(jnp.asarray(pred), batch)) == pytest.approx(4.0)
    g = jax.grad(lambda p, t, m: task.loss(p, {"target": t, "mask": m}), argnums=(0, 1, 2))(
        jnp.asarray(pred), jnp.asarray(target), jnp.asarray(mask))
    gp, gt, gm = (np.asarray(x).ravel() for x in g)
    np.testing.assert_allclose(gp, [2 * 1 / 2.5, 0.0, 2 * -3 / 2.5, 0.0], rtol=1e-6)   # 2 w (p - t) / Σw
    np.testing.assert_allclose(gt, -gp, rtol=1e-6)
    # ∂/∂w_i of Σ w e² / Σ w = (e_i² − L) / Σw
    np.testing.assert_allclose(gm, [(1 - 4) / 2.5, (0 - 4) / 2.5, (9 - 4) / 2.5, (81 - 4) / 2.5], rtol=1e-6)


def test_loss_finite_everywhere():
    task = DepthTask()
    z = jnp.zeros((2, 3, 3, 1))
    f = lambda p, t, m: task.loss(p, {"target": t, "mask": m})
    assert float(f(z, z, z)) == 0.0
    grads = jax.grad(f, argnums=(0, 1, 2))(z - 5.0, z, z)
    assert all(np.all(np.isfinite(np.asarray(x))) for x in grads)
    with pytest.raises(ValueError, match="expected pred"):
        task.loss(jnp.zeros((1, 2, 2, 3)), {"target": z, "mask": z})


def test_metrics_hand_values():
    """t = (1, 2, 4), p = (2, 2, 1); a fourth pixel outside the mask and a fifth with t = 0 are ignored."""
    task = DepthTask()
    pred = _b([2.0, 2.0, 1.0, -7.0, 3.0])
    batch = {"target": _b([1.0, 2.0, 4.0, 5.0, 0.0]), "mask": _b([1, 1, 1, 0, 1])}
    m = task.metrics(pred, batch)
    ln2 = math.log(2.0)
    # errors 1, 0, -3; d = log p - log t = ln2, 0, -2 ln2
    assert m["abs_rel"] == pytest.approx((1 / 1 + 0 + 3 / 4) / 3)
    assert m["sq_rel"] == pytest.approx((1 / 1 + 0 + 9 / 4) / 3)
    assert m["rmse"] == pytest.approx(math.sqrt(10 / 3))
    assert m["rmse_log"] == pytest.approx(ln2 * math.sqrt(5 / 3))
    # mean d² = 5 ln2²/3, mean d = -ln2/3: sqrt(5/3 - 1/9) ln2 = sqrt(14)/3 ln2
    assert m["si_log"] == pytest.approx(math.sqrt(14) / 3 * ln2)
    # max ratios 2, 1, 4: only the exact pixel is under 1.25, 1.5625 and 1.953125
    assert m["delta1"] == m["delta2"] == m["delta3"] == pytest.approx(1 / 3)


def test_scale_invariance_is_per_image_and_clamp():
    task = DepthTask()
    t = np.array([1.0, 2.0, 5.0, 3.0], np.float32).reshape(1, 2, 2, 1)
    target = np.concatenate([t, t])
    pred = np.concatenate([2 * t, 3 * t])                     # image 0 twice too far, image 1 three times
    batch = {"target": target, "mask": np.ones_like(target)}
    m = task.metrics(pred, batch)
    assert m["si_log"] == pytest.approx(0.0, abs=1e-6)         # each image is a global scale of its target
    assert m["rmse_log"] == pytest.approx(math.sqrt((math.log(2) ** 2 + math.log(3) ** 2) / 2))
    assert m["abs_rel"] == pytest.approx(1.5)                  # mean of 1 (×2) and 2 (×3)
    assert m["delta3"] == pytest.approx(0.0)
    # non-positive predictions are clamped to min_depth before logs and ratios: all finite
    neg = {"target": _b([1.0, 2.0]), "mask": _b([1, 1])}
    m2 = DepthTask(min_depth=0.01).metrics(_b([-1.0, 0.0]), neg)
    assert all(np.isfinite(v) for v in m2.values())
    assert m2["abs_rel"] == pytest.approx(((1 - 0.01) / 1 + (2 - 0.01) / 2) / 2)
    assert m2["rmse_log"] == pytest.approx(math.sqrt((math.log(0.01) ** 2 + math.log(0.005) ** 2) / 2))
    with pytest.raises(ValueError, match="no valid pixel"):
        task.metrics(_b([1.0]), {"target": _b([1.0]), "mask": _b([0.0])})


def test_task_interface():
    task = DepthTask()
    assert task.name == "depth" and task.out_channels == 1 and task.in_channels == 1
    assert "delta1" not in DepthTask(deltas=False).metrics(_b([1.0]), {"target": _b([1.0]), "mask": _b([1.0])})
