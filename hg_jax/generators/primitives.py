"""Watertight primitive meshes for the CSG grammar, centred at the origin, and the attachment point
its transformations need. numpy + trimesh, no jax."""
from __future__ import annotations

import numpy as np
import trimesh

from hg_jax.generators import solids


def sphere(radius: float, subdivisions: int = 3) -> trimesh.Trimesh:
    return trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)


def box(extents) -> trimesh.Trimesh:
    return trimesh.creation.box(extents=np.asarray(extents, np.float64))


def truncated_cone(radius: float, top_ratio: float, height: float, sections: int = 32) -> trimesh.Trimesh:
    """A frustum along z: bottom radius ``radius``, top radius ``radius * top_ratio``, closed."""
    mesh = trimesh.Trimesh(*solids.truncated_cone(radius, top_ratio, height, sections), process=True)
    trimesh.repair.fix_normals(mesh)
    return mesh


def tetrahedron(size: float) -> trimesh.Trimesh:
    """Regular tetrahedron with circumradius ``size``."""
    mesh = trimesh.Trimesh(*solids.tetrahedron(size), process=True)
    trimesh.repair.fix_normals(mesh)
    return mesh


def surface_point(mesh: trimesh.Trimesh, direction_normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``surface_point_of`` a trimesh mesh."""
    return surface_point_of(np.asarray(mesh.vertices), np.asarray(mesh.faces), direction_normals)


def surface_point_of(vertices: np.ndarray, faces: np.ndarray,
                     direction_normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The outermost surface point of a closed mesh seen along a random direction, and that direction.

    A ray from far outside, aimed back at the bounding-box centre along the direction ``u`` given
    by three standard normals, hits the surface first at a point that moves continuously with the
    vertices, whatever the triangulation. (Picking a face by an area CDF does not: a boolean that
    re-triangulates its result under a tiny change of β sends the same uniform to a far-away face,
    which breaks common random numbers.) Returns (point, u); callers offset along u, which is
    continuous too, unlike the hit face's normal.
    """
    u = np.asarray(direction_normals, np.float64)
    u = u / max(np.linalg.norm(u), 1e-12)
    v = np.asarray(vertices, np.float64)
    tri = v[faces]
    corners = tri.reshape(-1, 3)                # the bounds of referenced vertices, like trimesh's
    centre = 0.5 * (corners.min(0) + corners.max(0))
    origin = centre + 2.0 * (np.linalg.norm(v - centre, axis=1).max() + 1e-9) * u
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)
    # ray origin - t u against every face plane: a single ray over a few thousand faces is cheaper
    # in numpy than building trimesh's per-mesh r-tree (~4 ms) for it
    denom = -(n @ u)
    ok = np.abs(denom) > 1e-12
    t = np.full(len(n), -1.0)
    t[ok] = np.einsum("ij,ij->i", tri[ok, 0] - origin, n[ok]) / denom[ok]
    ok = np.flatnonzero(t > 0)
    hits = origin - t[ok, None] * u
    inside = np.all(trimesh.triangles.points_to_barycentric(tri[ok], hits) >= -1e-9, axis=1)
    if inside.any():
        first = np.argmin(np.where(inside, t[ok], np.inf))
        return hits[first], u
    # the line misses (a centre left empty by a subtraction): the surface point nearest to it
    mesh = trimesh.Trimesh(v, faces, process=False)
    closest, _, _ = trimesh.proximity.closest_point(mesh, origin[None])
    return closest[0], u
