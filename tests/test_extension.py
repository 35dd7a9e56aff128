"""The README's "your own generator" example runs through the engine unchanged."""
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hg_jax.engine import Engine
from hg_jax.generators.base import check_sample
from hg_jax.host import InProcessPool
from hg_jax.methods.base import get_method
from hg_jax.models.convnet import make_convnet
from hg_jax.tasks.regression import RegressionTask
from tests.conftest import REPO


def _readme_example():
    text = open(os.path.join(REPO, "README.md")).read()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "class Stripes" in b)
    ns = {}
    exec(block, ns)
    return ns["Stripes"]()


def test_readme_generator_plugs_into_the_engine():
    gen = _readme_example()
    beta = gen.default_beta()
    check_sample(gen(beta, 0))
    assert all(np.array_equal(gen(beta, 3)[k], gen(beta, 3)[k]) for k in ("image", "target"))
    val = {k: jnp.asarray(np.stack([gen(beta + 0.3, 100 + i)[k] for i in range(4)]))
           for k in ("image", "target", "mask")}
    init, apply = make_convnet((4,), 1, 1)
    eng = Engine.build(pool=InProcessPool(gen), schema=gen.schema, task=RegressionTask(), init_fn=init,
                       apply_fn=apply, inner_optimizer=optax.sgd(0.1),
                       beta_optimizer=optax.rmsprop(0.05), val_batch=val, unroll_steps=2,
                       batch_size=2, num_directions=2, sigma=0.05)
    state = eng.init_state(beta, jax.random.PRNGKey(0), (1, 32, 32, 1))
    method = get_method("hybrid")
    for _ in range(2):
        state, info = method.step(eng, state)
        state = state.replace(step=state.step + 1)
        assert np.isfinite(info["val_loss"]) and np.all(np.isfinite(info["beta_grad"]))
    assert not np.array_equal(state.beta, beta)
