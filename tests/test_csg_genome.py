"""Genomes for Shape Evolution: decode, mutation and crossover stay valid shapes."""
import numpy as np
import pytest

from hg_jax.generators import csg_genome
from hg_jax.generators.csg import CSGGenerator


def test_random_mutated_and_crossed_genomes_decode_to_watertight_meshes():
    gen = CSGGenerator()
    beta = gen.default_beta()
    rng = np.random.default_rng(0)
    pop = [csg_genome.random_genome(rng, gen, beta) for _ in range(6)]
    kids = [csg_genome.mutate(rng, pop[i], gen, beta) for i in range(6)]
    kids += [csg_genome.crossover(rng, pop[i], pop[i + 1]) for i in range(5)]
    for g in pop + kids:
        assert g.shape == (csg_genome.SIZE,)
        mesh, fallbacks = csg_genome.decode(g)
        assert mesh.is_watertight and len(mesh.faces) > 0 and fallbacks >= 0
    assert any(not np.array_equal(k, p) for k, p in zip(kids, pop))
    a, b = csg_genome.decode(pop[0])[0], csg_genome.decode(pop[0])[0]
    assert np.array_equal(a.vertices, b.vertices)                         # deterministic
    with pytest.raises(ValueError, match="genome: expected shape"):
        csg_genome.decode(np.zeros(3))
