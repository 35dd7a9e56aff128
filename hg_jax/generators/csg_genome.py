"""CSG shapes as flat genomes, for Shape Evolution (Yang & Deng 2018). Host side, no jax.

A genome is a float64 vector: ``n`` primitive leaves (kind, three size parameters) and
``n − 1`` joins (active flag, union/subtract, rotation axis and angle, scale, attachment point
on the current shape as three uniforms, offset along the surface normal). The shape folds the
active joins left to right with the CSG grammar's own primitives and attachment rule, and the
same boolean fallback policy. A genome travels through the render pool in place of β, so
``GenomeSampler(genome, seed)`` is an ordinary f(·, r): the seed picks the pose and the lights.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import trimesh

from hg_jax.generators import primitives, sampling
from hg_jax.generators.csg import PRIMITIVES, CSGGenerator
from hg_jax.generators.rendered import RenderedSampler
from hg_jax.render.scene import Scene

LEAVES = 4        # default number of leaves: the largest tree a genome can express
LEAF = 4          # kind, p0, p1, p2
JOIN = 11         # active, subtract, axis(3), angle, scale, face u, bary a, bary b, offset


def size(leaves: int = LEAVES) -> int:
    """Length of a genome with ``leaves`` leaves."""
    return leaves * LEAF + (leaves - 1) * JOIN


SIZE = size(LEAVES)


def leaves_of(genome: np.ndarray) -> int:
    n = (len(genome) + JOIN) / (LEAF + JOIN)
    if n != int(n) or n < 1:
        raise ValueError(f"genome: expected shape (n·{LEAF} + (n−1)·{JOIN},) for n ≥ 1 leaves, got {np.shape(genome)}")
    return int(n)


def leaf_mesh(g: np.ndarray) -> trimesh.Trimesh:
    kind, a, b, c = int(g[0]) % len(PRIMITIVES), *np.maximum(np.abs(g[1:4]), 0.02)
    if PRIMITIVES[kind] == "sphere":
        return primitives.sphere(a)
    if PRIMITIVES[kind] == "cube":
        return primitives.box((a, b, c))
    if PRIMITIVES[kind] == "truncated_cone":
        return primitives.truncated_cone(a, min(b / max(a, 1e-6), 1.0), c)
    return primitives.tetrahedron(a)


def decode(genome: np.ndarray) -> tuple[trimesh.Trimesh, int]:
    """-> (mesh, number of boolean fallbacks)."""
    genome = np.asarray(genome, np.float64)
    if genome.ndim != 1:
        raise ValueError(f"genome: expected shape (n·{LEAF} + (n−1)·{JOIN},), got {genome.shape}")
    n = leaves_of(genome)
    mesh = leaf_mesh(genome[:LEAF])
    fallbacks = 0
    for j in range(n - 1):
        join = genome[n * LEAF + j * JOIN: n * LEAF + (j + 1) * JOIN]
        if join[0] < 0.5:
            continue
        child = leaf_mesh(genome[(j + 1) * LEAF:(j + 2) * LEAF])
        areas = mesh.area_faces
        face = min(int(np.searchsorted(np.cumsum(areas) / areas.sum(), join[7] % 1.0)), len(areas) - 1)
        a, b = join[8] % 1.0, join[9] % 1.0
        if a + b > 1:
            a, b = 1 - a, 1 - b
        tri = mesh.vertices[mesh.faces[face]]
        m = np.eye(4)
        m[:3, :3] = sampling.axis_angle_rotation(join[2:5], join[5]) * max(abs(join[6]), 0.05)
        m[:3, 3] = tri[0] + a * (tri[1] - tri[0]) + b * (tri[2] - tri[0]) + join[10] * mesh.face_normals[face]
        child.apply_transform(m)
        try:
            out = (trimesh.boolean.difference if join[1] >= 0.5 else trimesh.boolean.union)(
                [mesh, child], engine="manifold")
            ok = len(out.faces) > 0 and out.is_watertight and out.volume > 1e-6
        except Exception:
            ok = False
        if ok:
            mesh = out
        else:
            fallbacks += 1
    return mesh, fallbacks


def random_genome(rng: np.random.Generator, gen: CSGGenerator, beta: np.ndarray,
                  leaves: int = LEAVES) -> np.ndarray:
    """A genome of ``leaves`` leaves drawn from the CSG grammar's prior at β (leaf kinds, sizes,
    joins, transforms)."""
    p = gen.schema.constrained(np.asarray(beta, np.float64))
    n = leaves
    g = np.zeros(size(n))
    for i in range(n):
        kind = int(rng.choice(len(PRIMITIVES), p=p["primitive_w"]))
        ln = lambda name: float(np.exp(p[f"{name}_mu"][0] + p[f"{name}_sd"][0] * rng.standard_normal()))  # noqa: E731
        if PRIMITIVES[kind] == "cube":
            dims = [ln("box_extent") for _ in range(3)]
        elif PRIMITIVES[kind] == "truncated_cone":
            r = ln("cone_radius")
            dims = [r, r / (1 + np.exp(-rng.standard_normal())), ln("cone_height")]
        else:
            s = ln("sphere_radius" if PRIMITIVES[kind] == "sphere" else "tetra_size")
            dims = [s, s, s]
        g[i * LEAF:(i + 1) * LEAF] = [kind, *dims]
    for j in range(n - 1):
        o = n * LEAF + j * JOIN
        g[o] = float(rng.uniform() < p["p_expand"][0])
        g[o + 1] = float(rng.uniform() >= p["p_union"][0])
        g[o + 2:o + 5] = rng.standard_normal(3)
        g[o + 5] = np.exp(p["angle_mu"][0] + p["angle_sd"][0] * rng.standard_normal())
        g[o + 6] = np.exp(p["scale_mu"][0] + p["scale_sd"][0] * rng.standard_normal())
        g[o + 7:o + 10] = rng.uniform(size=3)
        g[o + 10] = np.exp(p["offset_mu"][0] + p["offset_sd"][0] * rng.standard_normal())
    return g


def mutate(rng: np.random.Generator, genome: np.ndarray, gen: CSGGenerator, beta) -> np.ndarray:
    """Transform changes, primitive swaps, or toggling a join (one of the three, uniformly)."""
    g = genome.copy()
    n = leaves_of(g)
    kind = rng.integers(3) if n > 1 else 1     # one leaf: no join to change

    if kind == 0:      # transform change of one join
        o = n * LEAF + int(rng.integers(n - 1)) * JOIN
        g[o + 2:o + 5] += 0.3 * rng.standard_normal(3)
        g[o + 5] += 0.3 * rng.standard_normal()
        g[o + 6] *= np.exp(0.2 * rng.standard_normal())
        g[o + 7:o + 10] = (g[o + 7:o + 10] + 0.1 * rng.standard_normal(3)) % 1.0
        g[o + 10] *= np.exp(0.3 * rng.standard_normal())
    elif kind == 1:    # primitive swap: a fresh leaf from the prior
        i = int(rng.integers(n))
        g[i * LEAF:(i + 1) * LEAF] = random_genome(rng, gen, beta, n)[i * LEAF:(i + 1) * LEAF]
    else:              # grow or prune: toggle one join
        o = n * LEAF + int(rng.integers(n - 1)) * JOIN
        g[o] = 1.0 - g[o]
    return g


def crossover(rng: np.random.Generator, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The boolean combination of a's first leaves with b's remaining leaves and joins."""
    n = leaves_of(a)
    if n == 1:
        return a.copy()
    k = int(rng.integers(1, n))
    g = b.copy()
    g[:k * LEAF] = a[:k * LEAF]
    g[n * LEAF:n * LEAF + (k - 1) * JOIN] = a[n * LEAF:n * LEAF + (k - 1) * JOIN]
    o = n * LEAF + (k - 1) * JOIN
    g[o] = 1.0                     # the cut point becomes an active join: a's part ∘ b's part
    return g


@dataclasses.dataclass(frozen=True)
class GenomeScenes:
    """Scene generator over genomes: the genome is the shape, the seed the pose and the lights."""
    csg: CSGGenerator

    @property
    def schema(self):
        return None

    def generate(self, genome, seed: int) -> Scene:
        mesh, fallbacks = decode(genome)
        scene = self.csg.frame(mesh, seed)
        scene.meta["csg_fallbacks"] = fallbacks
        return scene


def genome_sampler(sampler: RenderedSampler) -> RenderedSampler:
    """The same rendering as the experiment's CSG sampler, with genomes in place of β."""
    return dataclasses.replace(sampler, generator=GenomeScenes(sampler.generator))


@dataclasses.dataclass(frozen=True)
class GenomeSpace:
    """What Shape Evolution needs from a CSG experiment: the grammar (its prior at β seeds the
    population and primitive swaps) and the sampler that renders genomes like the experiment's β
    renders. A setup offers it as ``Setup.genomes``."""
    csg: CSGGenerator
    sampler: RenderedSampler

    @classmethod
    def of(cls, sampler: RenderedSampler) -> "GenomeSpace":
        return cls(csg=sampler.generator, sampler=genome_sampler(sampler))

    def random(self, rng, beta, leaves: int = LEAVES) -> np.ndarray:
        return random_genome(rng, self.csg, beta, leaves)

    def mutate(self, rng, genome, beta) -> np.ndarray:
        return mutate(rng, genome, self.csg, beta)

    def crossover(self, rng, a, b) -> np.ndarray:
        return crossover(rng, a, b)
