"""Each baseline estimator against the exact ∂L/∂β of the differentiable toy (jax.grad), through the
production ask → render → tell path; and what the random-β baselines promise."""
import json

import jax
import numpy as np
import pytest

from hg_jax.core.estimators.base import Context, available, make
from hg_jax.core.estimators.random_beta import RandomBeta, RandomPerSample
from hg_jax.core.estimators.random_search import RandomSearch
from hg_jax.core.estimators.reinforce import Reinforce
from hg_jax.generators.toy import SCHEMA
from tests.conftest import load_config
from tests.toy_problem import B, K, cos, make_problem


@pytest.fixture
def problem(x64):
    return make_problem()


@pytest.mark.parametrize("cls", [RandomSearch, Reinforce])
def test_black_box_estimators_are_unbiased_for_the_exact_gradient(problem, cls):
    """Basic Random Search and REINFORCE estimate the gradient of the σ-smoothed L, which for a small
    σ is ∇_β L: averaged over many directions (one step with m = 400), direction and scale match."""
    p = problem
    est = cls(cls.Hyper(num_directions=400, sigma=1e-3), p.context())
    state = est.init(p.state, p.state.key)
    request = est.ask(state, jax.random.PRNGKey(3))
    _, g, aux = est.tell(state, p.pools.submit(request), p.trainer)
    exact = p.exact(request.seeds)
    assert np.linalg.norm(exact) > 0
    assert cos(g, exact) >= 0.95, (g, exact)
    assert 0.75 < np.linalg.norm(g) / np.linalg.norm(exact) < 1.33, (g, exact)
    assert aux["trainings"] == len(request.probes) + 1
    # the network carried forward is the one trained on f(β, r), as in hybrid
    assert aux["val_loss"] == pytest.approx(float(p.end_to_end(p.beta, request.seeds)), rel=1e-6)


@pytest.mark.parametrize("cls", [RandomSearch, Reinforce])
def test_black_box_error_shrinks_with_more_directions(problem, cls):
    p = problem
    errors = {}
    for m in (4, 64):
        errs = []
        for repeat in range(4):
            est = cls(cls.Hyper(num_directions=m, sigma=1e-3), p.context())
            state = est.init(p.state, p.state.key)
            request = est.ask(state, jax.random.PRNGKey(200 + repeat))
            _, g, _ = est.tell(state, p.pools.submit(request), p.trainer)
            exact = p.exact(request.seeds)
            errs.append(np.linalg.norm(g - exact) / np.linalg.norm(exact))
        errors[m] = float(np.mean(errs))
    assert errors[4] > errors[64], errors


def test_random_per_sample_draws_a_beta_per_image_reproducibly():
    ctx = Context(schema=SCHEMA, batch_shape=(K, B))
    est = RandomPerSample(RandomPerSample.Hyper(std=0.5), ctx)
    from hg_jax.core.state import OuterState

    beta0 = np.zeros(SCHEMA.size)
    state = OuterState(step=0, beta=beta0, beta_opt_state=None, params=None, inner_opt_state=None,
                       key=jax.random.PRNGKey(0))
    key = jax.random.fold_in(state.key, 3)
    a, b = est.ask(state, key), est.ask(state, key)
    assert a.train.shape == (K, B, SCHEMA.size)
    np.testing.assert_array_equal(a.train, b.train)                      # from the seed: reproducible
    np.testing.assert_array_equal(a.seeds, b.seeds)
    assert len({tuple(v) for v in a.train.reshape(-1, SCHEMA.size)}) == K * B   # a fresh β per image
    other = est.ask(state, jax.random.fold_in(state.key, 4))
    assert not np.array_equal(other.train, a.train)                      # and per step
    z = (a.train - beta0) / 0.5
    assert abs(z.mean()) < 0.5 and 0.5 < z.std() < 1.5
    # the renders are f(β_kb, r_kb): each image rendered at its own β with its own seed
    from hg_jax.core.bridge import InProcessPool, Pools
    from hg_jax.generators.toy import ToySampler

    sampler = ToySampler()
    X = Pools.of(beta=InProcessPool(sampler)).submit(a).train.result()
    k, i = 1, 2
    np.testing.assert_array_equal(X["image"][k, i], sampler(a.train[k, i], int(a.seeds[k, i]))["image"])


def test_random_beta_draws_are_the_seeds_and_distinct():
    c = load_config("toy", "small")
    ctx = Context(schema=SCHEMA, batch_shape=(K, B))
    from hg_jax.core.state import OuterState

    state = OuterState(step=0, beta=np.zeros(SCHEMA.size), beta_opt_state=None, params=None,
                       inner_opt_state=None, key=jax.random.PRNGKey(5))
    draws = [make("random_beta", c, ctx, draw=i).init(state, state.key).beta for i in range(3)]
    again = make("random_beta", c, ctx, draw=1).init(state, state.key).beta
    np.testing.assert_array_equal(draws[1], again)
    assert len({tuple(d) for d in draws}) == 3
    assert isinstance(make("random_beta", c, ctx), RandomBeta)


def test_random_beta_count_trains_n_rows_and_ranks_them(tmp_path):
    from hg_jax.experiment import run

    c = load_config("toy", "small")
    c.method, c.outer_steps, c.eval_every, c.random_beta.count = "random_beta", 2, 2, 3
    rep = run(c, str(tmp_path))
    names = [f"random_beta_{i}" for i in range(3)]
    assert list(rep["rows"]) == names
    betas = {tuple(rep["rows"][n]["beta"]) for n in names}
    assert len(betas) == 3                                                # three different fixed β
    val = {n: rep["rows"][n]["val_loss"] for n in names}
    r = rep["random_beta"]
    assert r["count"] == 3 and r["best"]["row"] == min(val, key=val.get) and r["worst"]["row"] == max(val, key=val.get)
    assert r["median"]["row"] not in (r["best"]["row"], r["worst"]["row"])
    lines = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
    for n in names:                                                        # each held fixed
        mine = [l["beta"] for l in lines if l["row"] == n]
        assert len(mine) == 2 and mine[0] == mine[1]


def test_every_builtin_estimator_is_registered():
    assert {"hybrid", "fixed", "random_beta", "random_per_sample", "random_search", "reinforce",
            "evolution"} <= set(available())


class ToyGenomes:
    """A genome space over the toy generator (a genome is a β): Shape Evolution's logic without CSG."""

    def __init__(self):
        from hg_jax.generators.toy import ToySampler

        self.sampler = ToySampler()

    def random(self, rng, beta, leaves):
        return np.asarray(beta) + 0.3 * rng.standard_normal(SCHEMA.size)

    def mutate(self, rng, genome, beta):
        return genome + 0.1 * rng.standard_normal(SCHEMA.size)

    def crossover(self, rng, a, b):
        return np.where(rng.uniform(size=a.shape) < 0.5, a, b)


def _evolution(every, population=4, candidates=3):
    import optax

    from hg_jax.core import loop
    from hg_jax.core.bridge import InProcessPool, Pools
    from hg_jax.core.estimators.evolution import Evolution
    from hg_jax.core.trainer import Trainer
    from hg_jax.models.convnet import make_convnet
    from hg_jax.tasks.regression import RegressionTask

    genomes = ToyGenomes()
    beta0 = genomes.sampler.default_beta()
    val = genomes.sampler.batch(beta0 + 0.2, np.arange(100, 104))
    init, apply = make_convnet((4,), 1, 1)
    trainer = Trainer.build(task=RegressionTask(), init_fn=init, apply_fn=apply, inner_optimizer=optax.sgd(0.1),
                            val_batch=val, unroll_steps=2, batch_size=2)
    est = Evolution(Evolution.Hyper(population=population, leaves=1, candidates=candidates,
                                    reevaluate_every=every),
                    Context(schema=SCHEMA, batch_shape=(2, 2), genomes=genomes))
    beta_opt = optax.rmsprop(0.1)
    state = est.init(loop.init_state(trainer, beta_opt, beta0, jax.random.PRNGKey(0), (1, 16, 16, 1)),
                     jax.random.PRNGKey(0))
    pools = Pools.of(genome=InProcessPool(genomes.sampler))
    return est, state, trainer, pools, beta_opt


@pytest.mark.parametrize("every", [1, 2, 0])
def test_evolution_rescores_members_as_the_network_trains(every):
    from hg_jax.core import loop

    est, state, trainer, pools, beta_opt = _evolution(every)
    assert state.method_state["population"].shape == (4, SCHEMA.size)
    assert np.all(np.isinf(state.method_state["fitness"]))
    for step in range(3):
        request = est.ask(state, jax.random.fold_in(state.key, state.step))
        rescore = every > 0 and step % every == 0
        assert request.sampler == "genome" and len(request.probes) == 3 + (4 if rescore else 0)
        assert request.train.shape == (2, 2, SCHEMA.size)
        before = np.asarray(state.method_state["fitness"]).copy()
        state, info = loop.outer_step(state, est, trainer, pools, beta_opt)
        fitness = np.asarray(state.method_state["fitness"])
        assert info["rescored"] == rescore and info["trainings"] == len(request.probes) + 1
        if rescore:       # every member has a fitness from this step's network (children may replace some)
            assert np.all(np.isfinite(fitness))
        elif np.all(np.isfinite(before)):
            replaced = ~np.isclose(fitness, before)
            assert np.all(np.isin(fitness[replaced], info["candidate_losses"]))
    np.testing.assert_array_equal(state.beta, est.ctx.genomes.sampler.default_beta())     # β untouched
