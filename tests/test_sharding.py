"""Data-parallel inner training on 2 (forced host) CPU devices agrees with one device.

The device count is fixed when jax starts, so the checks run in a subprocess with
XLA_FLAGS=--xla_force_host_platform_device_count=2.
"""
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent("""
    import json, sys
    import jax, jax.numpy as jnp, numpy as np, optax
    from hg_jax.config import ConfigError
    from hg_jax.core import sharding
    from hg_jax.core.bridge import InProcessPool, PendingBatches
    from hg_jax.core.trainer import Trainer
    from hg_jax.generators.toy import ToySampler
    from hg_jax.models.convnet import make_convnet
    from hg_jax.tasks.regression import RegressionTask

    assert len(jax.devices()) == 2, jax.devices()
    s = ToySampler()
    beta = s.default_beta()
    val = {k: jnp.asarray(v) for k, v in s.batch(beta, np.arange(100, 106)).items()}   # N = 6
    test = {k: np.asarray(v) for k, v in s.batch(beta, np.arange(200, 211)).items()}   # N = 11: padded
    init, apply = make_convnet((4,), 1, 1)

    def trainer(mesh):
        return Trainer.build(task=RegressionTask(), init_fn=init, apply_fn=apply,
                             inner_optimizer=optax.adam(1e-2, eps_root=1e-16), val_batch=val, unroll_steps=3,
                             batch_size=4, mesh=mesh)

    one, two = trainer(sharding.make_mesh(1)), trainer(sharding.make_mesh(0))
    assert one.mesh is None and two.mesh.size == 2
    params, opt_state = one.init(jax.random.PRNGKey(0), (1, 16, 16, 1))
    X = PendingBatches(InProcessPool(s), beta, np.arange(12).reshape(3, 4)).result()
    L1, dX1, p1, s1, l1 = one.meta_grad(params, opt_state, X, val)
    L2, dX2, p2, s2, l2 = two.meta_grad(params, opt_state, X, val)
    # the placements asked for: X split on B, the trained network replicated
    assert dX2["image"].sharding.spec == sharding.P(None, "batch"), dX2["image"].sharding
    assert all(a.sharding.is_fully_replicated for a in jax.tree_util.tree_leaves(p2))
    out = {"L": [float(L1), float(L2)],
           "dX": float(max(np.max(np.abs(np.asarray(dX1[k]) - np.asarray(dX2[k]))) for k in dX1)),
           "dX_scale": float(max(np.max(np.abs(np.asarray(dX1[k]))) for k in dX1)),
           "params": float(max(np.max(np.abs(np.asarray(a) - np.asarray(b)))
                               for a, b in zip(jax.tree_util.tree_leaves(p1), jax.tree_util.tree_leaves(p2)))),
           "losses": float(np.max(np.abs(np.asarray(l1) - np.asarray(l2))))}
    T1 = one.train_only(params, opt_state, X, val)
    T2 = two.train_only(params, opt_state, X, val)
    out["train_only_L"] = [float(T1[0]), float(T2[0])]
    e1, e2 = one.evaluate(p1, test, chunk=4), two.evaluate(p2, test, chunk=4)
    out["eval"] = [e1, e2]
    try:
        sharding.make_mesh(3)
        out["too_many"] = "no error"
    except ConfigError as e:
        out["too_many"] = str(e)
    try:
        sharding.check_batch_size(two.mesh, 3)
        out["odd_batch"] = "no error"
    except ConfigError as e:
        out["odd_batch"] = str(e)
    print("RESULT" + json.dumps(out))
""")


def _run(script, timeout=200):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                       timeout=timeout, cwd=REPO)
    assert p.returncode == 0, p.stderr[-3000:]
    import json

    return json.loads(p.stdout.split("RESULT", 1)[1])


def test_two_devices_match_one_device():
    r = _run(SCRIPT)
    assert r["L"][1] == pytest.approx(r["L"][0], rel=1e-5, abs=1e-7)
    assert r["dX"] <= 1e-5 * r["dX_scale"] + 1e-8
    assert r["params"] < 1e-5 and r["losses"] < 1e-5
    assert r["train_only_L"][1] == pytest.approx(r["train_only_L"][0], rel=1e-5, abs=1e-7)
    for k, v in r["eval"][0].items():
        assert r["eval"][1][k] == pytest.approx(v, rel=1e-4, abs=1e-6), k
    assert "config.inner.devices = 3" in r["too_many"] and "1..2" in r["too_many"]
    assert "config.inner.batch_size = 3" in r["odd_batch"]


RUN_SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, ".")
    from hg_jax.experiment import run
    from tests.conftest import load_config

    betas = {}
    for devices in (1, 2):
        c = load_config("toy", "small")
        c.outer_steps, c.eval_every, c.inner.devices = 3, 3, devices
        rep = run(c, sys.argv[1] + f"/d{devices}")
        betas[devices] = [json.loads(l)["beta"] for l in open(sys.argv[1] + f"/d{devices}/metrics.jsonl")]
    print("RESULT" + json.dumps(betas))
""")


@pytest.mark.slow
def test_toy_run_on_two_devices_follows_the_one_device_trajectory(tmp_path):
    import numpy as np

    r = _run(RUN_SCRIPT.replace("sys.argv[1]", repr(str(tmp_path))))
    np.testing.assert_allclose(np.array(r["2"]), np.array(r["1"]), rtol=1e-4, atol=1e-5)
