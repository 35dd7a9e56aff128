"""Watertight solids as plain (vertices, faces) arrays, and their booleans through manifold3d
directly. Host side: numpy + manifold3d, no jax.

Why not trimesh objects: a CSG sample spent most of its ~20 ms of generation in trimesh
bookkeeping around the boolean (volume and watertightness checks on both operands and the result,
cache hashing, copies), not in the boolean itself. The arrays here are the same numbers trimesh
held: primitives are built exactly as ``primitives.py`` builds them (the icosphere is the unit one
scaled, within 1e-15 of trimesh's radius-by-radius refinement), transformations go through the
same ``transform_points``, and a boolean is the same manifold3d call trimesh's ``engine="manifold"``
makes, on the same float32 operands. tests/test_solids.py renders both paths on many seeds.
"""
from __future__ import annotations

import functools

import numpy as np
import trimesh
from manifold3d import Error, Manifold, Mesh

Solid = tuple  # (vertices (N, 3) float64, faces (F, 3) int64)

MIN_VOLUME = 1e-6   # below this a boolean's result counts as empty (the CSG fallback policy)


@functools.lru_cache(maxsize=None)
def _unit_icosphere(subdivisions: int) -> Solid:
    s = trimesh.creation.icosphere(subdivisions=subdivisions, radius=1.0)
    v = s.vertices / np.linalg.norm(s.vertices, axis=1, keepdims=True)
    v.flags.writeable = False
    f = np.asarray(s.faces, np.int64)
    f.flags.writeable = False
    return v, f


@functools.lru_cache(maxsize=None)
def _unit_box() -> Solid:
    b = trimesh.creation.box()          # corners at ±0.5: scaling them is what box(extents) does
    v, f = np.array(b.vertices, np.float64), np.array(b.faces, np.int64)
    v.flags.writeable = f.flags.writeable = False
    return v, f


@functools.lru_cache(maxsize=None)
def _cone_faces(sections: int) -> np.ndarray:
    i = np.arange(sections)
    j = (i + 1) % sections
    cb, ct = 2 * sections, 2 * sections + 1
    f = np.concatenate([
        np.stack([i, j, sections + j], 1), np.stack([i, sections + j, sections + i], 1),  # side
        np.stack([cb * np.ones_like(i), j, i], 1),                                        # bottom cap
        np.stack([ct * np.ones_like(i), sections + i, sections + j], 1),                  # top cap
    ]).astype(np.int64)
    f.flags.writeable = False
    return f


_TETRA_FACES = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]], np.int64)


def sphere(radius: float, subdivisions: int = 3) -> Solid:
    v, f = _unit_icosphere(int(subdivisions))
    return v * float(radius), f


def box(extents) -> Solid:
    v, f = _unit_box()
    return v * np.asarray(extents, np.float64), f


def truncated_cone(radius: float, top_ratio: float, height: float, sections: int = 32) -> Solid:
    """A frustum along z: bottom radius ``radius``, top radius ``radius * top_ratio``, closed;
    outward winding by construction (what trimesh's fix_normals leaves it as)."""
    a = np.linspace(0.0, 2 * np.pi, sections, endpoint=False)
    ring = np.stack([np.cos(a), np.sin(a)], axis=1)
    r0, r1, h = radius, max(radius * top_ratio, 1e-3 * radius), height
    bottom = np.column_stack([ring * r0, np.full(sections, -h / 2)])
    top = np.column_stack([ring * r1, np.full(sections, h / 2)])
    return np.vstack([bottom, top, [[0, 0, -h / 2], [0, 0, h / 2]]]), _cone_faces(sections)


def tetrahedron(size: float) -> Solid:
    """Regular tetrahedron with circumradius ``size``, outward winding."""
    v = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], np.float64) * size / np.sqrt(3)
    return v, _TETRA_FACES


def transform(solid: Solid, matrix: np.ndarray) -> Solid:
    """Rigid motion times a positive scale (never flips the winding)."""
    return trimesh.transformations.transform_points(solid[0], matrix), solid[1]


def volume(solid: Solid) -> float:
    v, f = solid
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    return float(np.einsum("ij,ij->", a, np.cross(b, c)) / 6.0)


def _manifold(solid: Solid) -> Manifold:
    return Manifold(mesh=Mesh(vert_properties=np.asarray(solid[0], np.float32),
                              tri_verts=np.asarray(solid[1], np.uint32)))


def boolean(left: Solid, right: Solid, union: bool):
    """left ∪ right or left − right; None when manifold rejects an operand or the result is
    empty or thinner than ``MIN_VOLUME`` (the caller's fallback)."""
    a, b = _manifold(left), _manifold(right)
    if a.status() != Error.NoError or b.status() != Error.NoError:
        return None
    out = (a + b if union else a - b).to_mesh()
    v = np.asarray(out.vert_properties, np.float64)[:, :3]
    f = np.asarray(out.tri_verts, np.int64)
    if len(f) == 0:
        return None
    s = (v, f)
    return s if volume(s) > MIN_VOLUME else None


def to_trimesh(solid: Solid) -> trimesh.Trimesh:
    return trimesh.Trimesh(solid[0], solid[1], process=False)
