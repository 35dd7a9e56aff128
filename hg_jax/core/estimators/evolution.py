"""Shape Evolution (Yang & Deng 2018) over CSG meshes, as the paper's black-box baseline.

The state is a population of shapes (genomes, generators/csg_genome.py) instead of β; β stays at
β0 and only seeds the prior that random genomes and primitive swaps are drawn from. Each step:

- the network trains on renders of the population (every sample shows one member; carried over
  between steps, as for every estimator);
- ``candidates`` children are bred: crossover of two random members with probability
  ``crossover_rate`` (else a copy of one), then mutation (transform change, primitive swap,
  grow / prune) with probability ``mutation_rate``, always when no crossover happened, so every
  child differs from its parents;
- a shape's fitness is the validation loss of the *current* network after training on the
  population plus that shape (half of every batch shows it, the other half the population);
- every ``reevaluate_every`` steps the members are scored again the same way, since the network
  they were scored with has trained on since (the fitness of a shape depends on the network);
- a child better than the population alone replaces the member with the worst fitness, if it
  beats that fitness too.

Renders and K-step trainings are counted like every estimator's (``renders``, ``sgd_steps`` in
metrics.jsonl): candidates + rescored members + 1 trainings per step. Only for experiments with a
genome space (``Setup.genomes``: the CSG experiments).
"""
from __future__ import annotations

import dataclasses

import jax
import numpy as np

from hg_jax.core.estimators.base import Context, RenderRequest, numpy_rng, register, seeds_for, step_keys
from hg_jax.core.estimators.fixed import train_on_request

INIT_OFFSET = 2 ** 30 + 1   # fold_in offset of the initial population's draws


@register("evolution")
@dataclasses.dataclass(frozen=True)
class Evolution:
    @dataclasses.dataclass(frozen=True)
    class Hyper:
        population: int = 8
        leaves: int = 4              # primitives per shape: the largest CSG tree a genome expresses
        candidates: int = 4          # children bred and scored per step
        crossover_rate: float = 0.5
        mutation_rate: float = 0.5
        reevaluate_every: int = 1    # re-score the members every N steps (0: never)

        @classmethod
        def from_config(cls, config):
            e = config.evolution
            return cls(population=int(e.population), leaves=int(e.leaves),
                       candidates=int(e.candidates or config.hybrid.num_directions),
                       crossover_rate=float(e.crossover_rate), mutation_rate=float(e.mutation_rate),
                       reevaluate_every=int(e.reevaluate_every))

    hp: Hyper
    ctx: Context
    updates_beta = False

    def __post_init__(self):
        if self.ctx.genomes is None:
            raise ValueError("config.method 'evolution' needs a CSG experiment (e.g. mbii, csg_control): "
                             "this experiment's setup has no genome space (Setup.genomes)")

    def init(self, state, key):
        rng = numpy_rng(jax.random.fold_in(key, INIT_OFFSET))
        population = np.stack([self.ctx.genomes.random(rng, state.beta, self.hp.leaves)
                               for _ in range(self.hp.population)])
        return state.replace(method_state={"population": population,
                                           "fitness": np.full(self.hp.population, np.inf)})

    def breed(self, rng, population, beta) -> np.ndarray:
        g, n = self.ctx.genomes, len(population)
        children = []
        for _ in range(self.hp.candidates):
            crossed = n > 1 and rng.uniform() < self.hp.crossover_rate
            if crossed:
                a, b = rng.choice(n, 2, replace=False)
                child = g.crossover(rng, population[a], population[b])
            else:
                child = population[rng.integers(n)]
            if not crossed or rng.uniform() < self.hp.mutation_rate:
                child = g.mutate(rng, child, beta)
            children.append(child)
        return np.stack(children)

    def ask(self, state, key) -> RenderRequest:
        k_seed, k_breed = step_keys(key)
        seeds = seeds_for(k_seed, self.ctx.batch_shape)
        rng = numpy_rng(k_breed)
        pop = np.asarray(state.method_state["population"], np.float64)
        children = self.breed(rng, pop, state.beta)
        order = rng.permutation(len(pop))
        n = seeds.size
        shown = pop[order[np.arange(n) % len(pop)]]                    # sample i shows a member

        def with_shape(genome):                                          # even samples show ``genome``
            mixed = np.array([genome if i % 2 == 0 else pop[order[(i // 2) % len(pop)]] for i in range(n)])
            return mixed.reshape(seeds.shape + (-1,))

        every = self.hp.reevaluate_every
        rescore = every > 0 and int(state.step) % every == 0
        probes = tuple(with_shape(c) for c in children) + (tuple(with_shape(m) for m in pop) if rescore else ())
        return RenderRequest(seeds=seeds, train=shown.reshape(seeds.shape + (-1,)), probes=probes,
                             sampler="genome", payload={"children": children, "rescore": rescore})

    def tell(self, state, renders, trainer):
        children, rescore = renders.request.payload["children"], renders.request.payload["rescore"]
        scored = [trainer.score(state.params, state.inner_opt_state, p.result()) for p in renders.probes]
        scores = np.array([L for L, _ in scored])
        pop = np.asarray(state.method_state["population"], np.float64).copy()
        fitness = np.asarray(state.method_state["fitness"], np.float64).copy()
        child_scores = scores[:len(children)]
        if rescore:
            fitness = scores[len(children):].copy()
        state, _, aux = train_on_request(state, renders, trainer)
        L = aux["val_loss"]
        accepted = 0
        for i in np.argsort(child_scores):
            if child_scores[i] < L:
                worst = int(np.argmax(fitness))          # never-scored members first (inf)
                if child_scores[i] < fitness[worst]:
                    pop[worst], fitness[worst] = children[i], child_scores[i]
                    accepted += 1
        state = state.replace(method_state={"population": pop, "fitness": fitness})
        aux.update(candidate_losses=child_scores.tolist(), accepted=accepted, rescored=bool(rescore),
                   compute_s=aux["compute_s"] + sum(s for _, s in scored), trainings=len(scored) + 1)
        return state, None, aux
