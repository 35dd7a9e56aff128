"""A non-finite gradient skips the β update (counted) and never writes NaN into β."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hg_jax.engine import Engine
from hg_jax.generators.toy import ToySampler
from hg_jax.host import InProcessPool
from hg_jax.methods.base import get_method
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


def test_nan_gradient_skips_update():
    s = NaNAboveThreshold()
    beta0 = s.default_beta()
    s = dataclasses.replace(s, threshold=float(beta0[0]) + 1e-6)   # any δ with δ[0] > 0 breaks
    val = {k: jnp.asarray(v) for k, v in s.batch(beta0, np.arange(4)).items()}
    init, apply = make_convnet((4,), 1, 1)
    eng = Engine.build(pool=InProcessPool(s), schema=s.schema, task=RegressionTask(), init_fn=init,
                       apply_fn=apply, inner_optimizer=optax.sgd(0.1), beta_optimizer=optax.rmsprop(0.05),
                       val_batch=val, unroll_steps=2, batch_size=2, num_directions=4, sigma=0.05)
    state = eng.init_state(beta0, jax.random.PRNGKey(0), (1, 16, 16, 1))
    state, info = get_method("hybrid").step(eng, state)
    assert not info["beta_update_applied"]
    assert state.skipped_updates == 1
    np.testing.assert_array_equal(state.beta, beta0)
    assert np.all(np.isfinite(state.beta))


def test_killed_render_worker_mid_step_gives_the_same_outer_step(tmp_path):
    """A real worker process dies (SIGKILL) while rendering an outer step's ± perturbations; the pool
    replaces it, re-renders with the same seeds, and the hybrid step's result is unchanged."""
    from hg_jax.render.pool import RenderPool
    from tests.pool_samplers import KillOnce, Noise

    def one_step(sampler):
        beta0 = np.array([1.0, 0.5])
        from hg_jax.beta import BetaSchema
        schema = BetaSchema.of(("a", 1), ("b", 1))
        sampler_val = Noise()
        val = {k: jnp.asarray(np.stack([sampler_val(beta0, 100 + i)[k] for i in range(2)]))
               for k in ("image", "target", "mask")}
        init, apply = make_convnet((4,), 1, 1)
        with RenderPool(sampler, 2) as pool:
            eng = Engine.build(pool=pool, schema=schema, task=RegressionTask(), init_fn=init, apply_fn=apply,
                               inner_optimizer=optax.sgd(0.01), beta_optimizer=optax.rmsprop(0.05),
                               val_batch=val, unroll_steps=2, batch_size=2, num_directions=3, sigma=0.1)
            state = eng.init_state(beta0, jax.random.PRNGKey(0), (1, 8, 8, 1))
            state, info = get_method("hybrid").step(eng, state)
            return state, info, dict(pool.stats)

    clean_state, clean_info, clean_stats = one_step(Noise())
    state, info, stats = one_step(KillOnce(marker=str(tmp_path / "k"), bad_seed=-1))
    assert (tmp_path / "k").exists() and stats["worker_crashes"] >= 1 and clean_stats["worker_crashes"] == 0
    np.testing.assert_array_equal(state.beta, clean_state.beta)
    assert info["val_loss"] == clean_info["val_loss"]
