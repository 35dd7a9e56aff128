"""The differentiable toy as an estimator test bench: the production ask → render → tell path on a
float64 network, beside the exact ∂L/∂β of the same end-to-end function by jax.grad."""
import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hg_jax.core import unroll
from hg_jax.core.bridge import InProcessPool, Pools
from hg_jax.core.estimators.base import Context
from hg_jax.core.state import OuterState
from hg_jax.core.trainer import Trainer
from hg_jax.generators.toy import SCHEMA, ToySampler, toy_sample
from hg_jax.models.convnet import make_convnet
from hg_jax.tasks.regression import RegressionTask

K, B, SIZE = 3, 4, 12


@dataclasses.dataclass(frozen=True)
class Toy64(ToySampler):
    """The toy generator drawing and rendering in float64 (ToySampler draws in float32), so that
    its renders are the ones the float64 end-to-end function differentiates."""

    def batch(self, betas, seeds):
        betas = np.broadcast_to(np.asarray(betas, np.float64), (len(seeds), SCHEMA.size))
        out = _render64(jnp.asarray(betas), jnp.asarray(np.asarray(seeds), jnp.uint32), self.size, self.num_blobs)
        return {k: np.array(v) for k, v in out.items()}


@functools.partial(jax.jit, static_argnums=(2, 3))
def _render64(betas, seeds, size, num_blobs):
    return jax.vmap(lambda b, s: toy_sample(b, s, size=size, num_blobs=num_blobs))(betas, seeds)


@dataclasses.dataclass
class Problem:
    beta: np.ndarray
    state: OuterState
    trainer: Trainer
    pools: Pools
    end_to_end: callable          # β (with the request's seeds) -> L

    def run(self, estimator, key):
        """One ask → submit → tell on the fixed state: (β gradient, request, aux)."""
        request = estimator.ask(self.state, key)
        _, g, aux = estimator.tell(self.state, self.pools.submit(request), self.trainer)
        return g, request, aux

    def exact(self, seeds) -> np.ndarray:
        """∂L/∂β by reverse mode through the renders and the K training steps, at the step's seeds."""
        return np.asarray(self.grad(jnp.asarray(self.beta), jnp.asarray(np.asarray(seeds), jnp.uint32)))

    def __post_init__(self):
        self.grad = jax.jit(jax.grad(self.end_to_end))

    def context(self) -> Context:
        return Context(schema=SCHEMA, batch_shape=(K, B))


def make_problem() -> Problem:
    """Call with jax_enable_x64 on (the ``x64`` fixture)."""
    task = RegressionTask()
    init, apply = make_convnet((6,), 1, 1)
    params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64),
                                    init(jax.random.PRNGKey(0), (1, SIZE, SIZE, 1)))
    opt = optax.sgd(0.2)
    sampler = Toy64(size=SIZE)
    beta_star = sampler.default_beta()
    beta = beta_star + np.array([0.6, 0.1, -0.5, 0.2])
    val = {k: jnp.asarray(v) for k, v in sampler.batch(beta_star, np.arange(100, 110)).items()}
    trainer = Trainer.build(task=task, init_fn=init, apply_fn=apply, inner_optimizer=opt, val_batch=val,
                            unroll_steps=K, batch_size=B)
    tl, vl = unroll.make_train_loss(apply, task), unroll.make_val_loss(apply, task)

    def end_to_end(b, seeds):
        X = jax.vmap(lambda s: toy_sample(b, s, size=SIZE))(jnp.ravel(jnp.asarray(seeds, jnp.uint32)))
        X = jax.tree_util.tree_map(lambda a: a.reshape((K, B) + a.shape[1:]), X)
        p, _, _ = unroll.train(params, opt.init(params), X, loss_fn=tl, optimizer=opt)
        return vl(p, val)

    state = OuterState(step=0, beta=beta, beta_opt_state=None, params=params, inner_opt_state=opt.init(params),
                       key=jax.random.PRNGKey(1))
    return Problem(beta=beta, state=state, trainer=trainer, pools=Pools.of(beta=InProcessPool(sampler)),
                   end_to_end=end_to_end)


def cos(a, b) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
