"""A non-finite gradient skips the β update (counted) and never writes NaN into β."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hg_jax.core import loop
from hg_jax.core.bridge import InProcessPool, Pools
from hg_jax.core.estimators.base import Context
from hg_jax.core.estimators.hybrid import Hybrid
from hg_jax.core.trainer import Trainer
from hg_jax.generators.toy import ToySampler
from hg_jax.models.convnet import make_convnet
from hg_jax.tasks.regression import RegressionTask


@dataclasses.dataclass(frozen=True)
class NaNAboveThreshold(ToySampler):
    """Renders NaN whenever β[0] exceeds a threshold: a broken renderer for some perturbations."""
    threshold: float = 0.0

    def batch(self, betas, seeds):
        out = super().batch(betas, seeds)
        bad = np.broadcast_to(np.asarray(betas), (len(seeds), self.schema.size))[:, 0] > self.threshold
        out["image"][bad] = np.nan
        return out


def _one_hybrid_step(pools, schema, beta0, val, lr, m, sigma, input_shape):
    init, apply = make_convnet((4,), 1, 1)
    trainer = Trainer.build(task=RegressionTask(), init_fn=init, apply_fn=apply, inner_optimizer=optax.sgd(lr),
                            val_batch=val, unroll_steps=2, batch_size=2)
    beta_opt = optax.rmsprop(0.05)
    state = loop.init_state(trainer, beta_opt, beta0, jax.random.PRNGKey(0), input_shape)
    est = Hybrid(Hybrid.Hyper(num_directions=m, sigma=sigma), Context(schema=schema, batch_shape=(2, 2)))
    return loop.outer_step(state, est, trainer, pools, beta_opt)


def test_nan_gradient_skips_update():
    s = NaNAboveThreshold()
    beta0 = s.default_beta()
    s = dataclasses.replace(s, threshold=float(beta0[0]) + 1e-6)   # any δ with δ[0] > 0 breaks
    val = {k: jnp.asarray(v) for k, v in s.batch(beta0, np.arange(4)).items()}
    state, info = _one_hybrid_step(Pools.of(beta=InProcessPool(s)), s.schema, beta0, val, 0.1, 4, 0.05,
                                   (1, 16, 16, 1))
    assert not info["beta_update_applied"]
    assert state.skipped_updates == 1
    np.testing.assert_array_equal(state.beta, beta0)
    assert np.all(np.isfinite(state.beta))


def test_killed_render_worker_mid_step_gives_the_same_outer_step(tmp_path):
    """A real worker process dies (SIGKILL) while rendering an outer step's ± perturbations; the pool
    replaces it, re-renders with the same seeds, and the hybrid step's result is unchanged."""
    from hg_jax.beta import BetaSchema
    from hg_jax.render.pool import RenderPool
    from tests.pool_samplers import KillOnce, Noise

    def one_step(sampler):
        beta0 = np.array([1.0, 0.5])
        schema = BetaSchema.of(("a", 1), ("b", 1))
        sampler_val = Noise()
        val = {k: jnp.asarray(np.stack([sampler_val(beta0, 100 + i)[k] for i in range(2)]))
               for k in ("image", "target", "mask")}
        with RenderPool(sampler, 2) as pool:
            state, info = _one_hybrid_step(Pools.of(beta=pool), schema, beta0, val, 0.01, 3, 0.1, (1, 8, 8, 1))
            return state, info, dict(pool.stats)

    clean_state, clean_info, clean_stats = one_step(Noise())
    state, info, stats = one_step(KillOnce(marker=str(tmp_path / "k"), bad_seed=-1))
    assert (tmp_path / "k").exists() and stats["worker_crashes"] >= 1 and clean_stats["worker_crashes"] == 0
    np.testing.assert_array_equal(state.beta, clean_state.beta)
    assert info["val_loss"] == clean_info["val_loss"]
