"""Shape Evolution (Yang & Deng 2018) over CSG meshes, as the paper's black-box baseline.

The state is a population of shapes (genomes, generators/csg_genome.py) instead of β. Each outer
step: the network trains on renders of the population (carried over, as for every method); m
candidates are bred — mutation (transform changes, primitive swaps, grow/prune) or crossover (a
boolean combination of two parents' parts) — and each candidate's fitness is the validation loss
of the current network after training on the population plus that candidate (half of every
batch shows the candidate). A candidate better than the population alone replaces the member
with the worst recorded fitness. Only for CSG setups (the experiment's sampler must render CSGGenerator).
"""
from __future__ import annotations

import jax
import numpy as np

from hg_jax.generators import csg_genome
from hg_jax.generators.csg import CSGGenerator
from hg_jax.host import PendingBatches, make_pool
from hg_jax.methods.base import register

POPULATION = 8
_POOLS = {}      # one genome pool per engine pool (worker processes are reused across steps)


def _genome_pool(engine):
    key = id(engine.pool)
    if key not in _POOLS:
        sampler = engine.pool.sampler
        if not isinstance(getattr(sampler, "generator", None), CSGGenerator):
            raise ValueError("config.method 'evolution' needs a CSG experiment (e.g. mbii): its sampler "
                             f"renders {type(getattr(sampler, 'generator', sampler)).__name__}")
        # the genomes render on the same backend as the β renders
        _POOLS[key] = make_pool(csg_genome.genome_sampler(sampler), getattr(engine.pool, "num_workers", 0),
                                backend=getattr(engine.pool, "backend", "processes"),
                                ray_address=getattr(engine.pool, "address", ""))
    return _POOLS[key]


@register("evolution")
class Evolution:
    def init(self, engine, state):
        pool = _genome_pool(engine)
        rng = np.random.default_rng(int(jax.random.randint(jax.random.fold_in(state.key, 2**30 + 1), (), 0,
                                                           2**31 - 1)))
        gen = pool.sampler.generator.csg
        population = np.stack([csg_genome.random_genome(rng, gen, state.beta) for _ in range(POPULATION)])
        return state.replace(method_state={"population": population,
                                           "fitness": np.full(POPULATION, np.inf)})

    def close(self, engine):
        pool = _POOLS.pop(id(engine.pool), None)
        if pool is not None:
            pool.close()

    def _render(self, pool, genomes, seeds):
        """(K, B) seeds; sample (k, b) shows genomes[(k * B + b) % len(genomes)]."""
        jobs = [(genomes[i % len(genomes)], int(s)) for i, s in enumerate(seeds.ravel())]
        return PendingBatches.from_jobs(pool, jobs, seeds.shape)

    def step(self, engine, state):
        pool = _genome_pool(engine)
        render0, jobs0 = pool.render_s, pool.stats.get("jobs", 0)
        k_seed, k_breed, _ = engine.step_keys(state)
        seeds = engine.seeds(k_seed)
        rng = np.random.default_rng(int(jax.random.randint(k_breed, (), 0, 2**31 - 1)))
        pop = np.asarray(state.method_state["population"], np.float64)
        fitness = np.asarray(state.method_state["fitness"], np.float64).copy()
        gen = pool.sampler.generator.csg
        candidates = []
        for _ in range(engine.num_directions):
            if rng.uniform() < 0.5:
                candidates.append(csg_genome.mutate(rng, pop[rng.integers(len(pop))], gen, state.beta))
            else:
                a, b = rng.choice(len(pop), 2, replace=False)
                candidates.append(csg_genome.crossover(rng, pop[a], pop[b]))
        order = rng.permutation(len(pop))
        base = self._render(pool, pop[order], seeds)
        mixed = []
        for c in candidates:   # even samples show the candidate, odd ones the population
            genomes = [c if i % 2 == 0 else pop[order[(i // 2) % len(pop)]] for i in range(seeds.size)]
            mixed.append(self._render(pool, genomes, seeds))
        scored = [engine.candidate_loss(state, pending) for pending in mixed]
        scores = [L for L, _ in scored]
        state, L, train_loss, t = engine.continue_training(state, base)
        compute_s = t + sum(s for _, s in scored)
        accepted = 0
        for i in np.argsort(scores):
            if scores[i] < L:
                worst = int(np.argmax(fitness))          # never-scored initial members first (inf)
                if scores[i] < fitness[worst]:
                    pop[worst], fitness[worst] = candidates[i], scores[i]
                    accepted += 1
        state = state.replace(method_state={"population": pop, "fitness": fitness})
        return state, {"val_loss": L, "train_loss": train_loss, "candidate_losses": scores,
                       "accepted": accepted, "compute_s": compute_s, "render_s": pool.render_s - render0,
                       "renders": pool.stats.get("jobs", 0) - jobs0}
