"""The CSG shape grammar of the MBII experiment (paper §5.1), host side (numpy + trimesh + manifold3d).

    S → E;  E → C(E, T(E)) | P;  C → union | subtract;
    P → sphere | cube | truncated_cone | tetrahedron;  T → attach · rand_transl · rand_rotate · rand_scale

β holds (1) the rule probabilities (expand vs terminal, union vs subtract, which primitive), (2) the
primitive parameters and (3) the transformation parameters, each a (mean, spread) of the log of a
log-normal value; the cone's top/bottom radius ratio is logit-normal instead, so that it stays in
(0, 1). Expansion stops at ``max_depth``, where E must be P.

T: the right child is scaled (isotropic), rotated (uniform axis, log-normal angle), then centred on
the parent's surface at the outermost point along a uniform random direction u, and pushed out
along u by a log-normal offset (primitives.surface_point says why not a face picked by area).

Common random numbers: node i of the complete binary tree of depth ``max_depth`` (heap order,
root 1) owns a fixed block of uniforms and standard normals, drawn from ``seed`` up front whether
or not the node is used. Discrete choices are inverse CDFs of those uniforms under β's
probabilities; continuous values are exp(μ + σ·z) of those normals. So f(β, r) is bit-identical
across calls, continuous in β, and changes topology only where a uniform crosses a threshold.
Pose and lights come from the seed only (not in β).

Geometry is plain (vertices, faces) arrays with manifold3d booleans (solids.py: trimesh's wrapping
of the same calls was most of a sample's cost); ``shape`` returns a trimesh mesh for callers.

Union by z-buffer: ``generate`` computes a union only when a subtraction needs it as an operand.
A union the render sees is drawn as its operands' triangles together: the first surface a ray
meets on A ∪ B is the nearer of A's and B's, so image, depth, mask and normals are those of the
boolean's result (up to float rounding where the two surfaces cross; tests/test_solids.py). The
attachment ray (surface_point) and the framing (bounds, farthest vertex) give the same points on
the operands' triangles as on the union's. ``shape``/``solid`` still compute every boolean, in the
same tree order.

Boolean policy: a union/subtraction whose result is empty (volume < 1e-6) or whose operand
manifold3d rejects falls back to the left operand; ``scene.meta["csg_fallbacks"]`` counts it,
``scene.meta["csg_nodes"]`` counts the expanded tree's nodes.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import trimesh

from hg_jax.beta import BetaSchema
from hg_jax.generators import primitives, sampling, solids
from hg_jax.render.scene import Camera, MeshPart, Scene, look_at

PRIMITIVES = ("sphere", "cube", "truncated_cone", "tetrahedron")
_LOGNORMALS = ("sphere_radius", "box_extent", "cone_radius", "cone_height", "cone_top_ratio",
               "tetra_size", "offset", "angle", "scale")

SCHEMA = BetaSchema.of(
    ("p_expand", 1, "prob"), ("p_union", 1, "prob"), ("primitive_w", 4, "simplex"),
    *[f for name in _LOGNORMALS for f in ((f"{name}_mu", 1, "real"), (f"{name}_sd", 1, "positive"))],
)

# Per-node random block layout: uniforms for the discrete choices, standard normals for the
# continuous values and two random directions (rotation axis, attachment direction).
_U = {"expand": 0, "op": 1, "prim": 2}
_Z = {"sphere_radius": 0, "box_extent": slice(1, 4), "cone_radius": 4, "cone_height": 5,
      "cone_top_ratio": 6, "tetra_size": 7, "offset": 8, "angle": 9, "scale": 10,
      "axis": slice(11, 14), "attach": slice(14, 17)}
_NU, _NZ = 3, 17


@dataclasses.dataclass(frozen=True, eq=False)
class _Union:
    """left ∪ right, not computed yet (operands: solids or unions)."""
    left: object
    right: object


def _map(tree, f):
    if isinstance(tree, _Union):
        return _Union(_map(tree.left, f), _map(tree.right, f))
    return f(tree)


def _leaves(tree) -> list:
    return _leaves(tree.left) + _leaves(tree.right) if isinstance(tree, _Union) else [tree]


def _soup(tree) -> solids.Solid:
    """A node's solids as one triangle soup (a union drawn by the z-buffer)."""
    parts = _leaves(tree)
    if len(parts) == 1:
        return parts[0]
    offsets = np.cumsum([0] + [len(v) for v, _ in parts[:-1]])
    return (np.concatenate([v for v, _ in parts]),
            np.concatenate([f + o for (_, f), o in zip(parts, offsets)]))


@dataclasses.dataclass(frozen=True)
class CSGGenerator:
    max_depth: int = 2
    image_size: int = 64
    camera_distance: float = 3.6        # the framed shape fits in the unit sphere
    yfov: float = 0.6
    min_lights: int = 1
    max_lights: int = 2
    light_cone_deg: float = 60.0        # lights come from within this angle of the view axis
    light_intensity: float = 3.0        # shared by the lights of a scene
    sphere_subdivisions: int = 3        # icosphere: 1280 faces at 3
    cone_sections: int = 32
    schema: BetaSchema = SCHEMA

    def __post_init__(self):
        if not (isinstance(self.max_depth, int) and 0 <= self.max_depth <= 6):
            raise ValueError(f"CSGGenerator.max_depth must be an int in [0, 6], got {self.max_depth!r}")
        if self.image_size < 8:
            raise ValueError(f"CSGGenerator.image_size must be >= 8, got {self.image_size}")
        if not 1 <= self.min_lights <= self.max_lights:
            raise ValueError(f"CSGGenerator lights: need 1 <= min_lights <= max_lights, got "
                             f"{self.min_lights}, {self.max_lights}")
        if not 0 <= self.light_cone_deg <= 90:
            raise ValueError(f"CSGGenerator.light_cone_deg must be in [0, 90], got {self.light_cone_deg}")
        if not 0 <= self.sphere_subdivisions <= 4:
            raise ValueError(f"CSGGenerator.sphere_subdivisions must be in [0, 4], got "
                             f"{self.sphere_subdivisions}")
        if self.cone_sections < 3:
            raise ValueError(f"CSGGenerator.cone_sections must be >= 3, got {self.cone_sections}")
        if not (0 < self.yfov < np.pi and self.camera_distance * np.sin(self.yfov / 2) > 1):
            raise ValueError(f"CSGGenerator: camera_distance {self.camera_distance} with yfov {self.yfov} "
                             "crops the unit sphere the shape is framed in; need distance·sin(yfov/2) > 1")
        if self.schema != SCHEMA:
            raise ValueError("CSGGenerator.schema is fixed by the grammar; do not pass another")

    def default_beta(self) -> np.ndarray:
        """Shapes of moderate complexity: at depth 2 about 1.3 booleans per shape, 40% single
        primitives; children 0.7x the parent's size, turned by about 35°."""
        return SCHEMA.unconstrain({
            "p_expand": 0.6, "p_union": 0.6, "primitive_w": [0.25, 0.25, 0.25, 0.25],
            "sphere_radius_mu": np.log(0.5), "sphere_radius_sd": 0.3,
            "box_extent_mu": np.log(0.8), "box_extent_sd": 0.3,
            "cone_radius_mu": np.log(0.45), "cone_radius_sd": 0.3,
            "cone_height_mu": np.log(0.9), "cone_height_sd": 0.3,
            "cone_top_ratio_mu": 0.0, "cone_top_ratio_sd": 0.5,
            "tetra_size_mu": np.log(0.6), "tetra_size_sd": 0.3,
            "offset_mu": np.log(0.1), "offset_sd": 0.5,
            "angle_mu": np.log(0.6), "angle_sd": 0.5,
            "scale_mu": np.log(0.7), "scale_sd": 0.3,
        })

    # ---- random numbers ------------------------------------------------------------------------
    def draws(self, seed: int) -> dict:
        """Everything random about a sample, drawn from the seed alone (never from β)."""
        rng = np.random.default_rng(seed)
        slots = 2 ** (self.max_depth + 1)       # heap slots 1 .. 2^(d+1) - 1; slot 0 unused
        return {"u": rng.uniform(size=(slots, _NU)), "z": rng.standard_normal((slots, _NZ)),
                "pose": rng.standard_normal(4), "light_u": rng.uniform(size=(self.max_lights, 3))}

    # ---- grammar -------------------------------------------------------------------------------
    def shape(self, beta, seed: int) -> tuple[trimesh.Trimesh, dict]:
        """The CSG mesh before posing and normalisation, and what the grammar chose.

        meta: ``csg_nodes``, ``csg_fallbacks``; ``primitives`` (kinds, in expansion order),
        ``params`` ((kind, [values]) in world units before normalisation), ``transforms``
        ((scale, angle, offset) per boolean) and ``attach`` (the child's centre per boolean, in
        the parent's frame), for tests and logs.
        """
        solid, meta = self.solid(beta, seed)
        return solids.to_trimesh(solid), meta

    def solid(self, beta, seed: int) -> tuple[solids.Solid, dict]:
        """``shape`` as (vertices, faces) arrays."""
        return self._grow(beta, seed, lazy=False)

    def _grow(self, beta, seed: int, lazy: bool):
        """The expanded tree and the grammar's meta; with ``lazy`` unions stay ``_Union`` nodes
        until a subtraction needs them, else every boolean is computed where it stands."""
        self.schema.check(beta, "beta")
        p = SCHEMA.constrained(np.asarray(beta, np.float64))
        r = self.draws(seed)
        meta = {"csg_nodes": 0, "csg_fallbacks": 0, "primitives": [], "params": [], "transforms": [],
                "attach": []}
        return self._expand(1, 0, p, r, meta, lazy), meta

    @staticmethod
    def _lognormal(p, name, z):
        return np.exp(p[f"{name}_mu"][0] + p[f"{name}_sd"][0] * z)

    def _primitive(self, node, p, r, meta) -> solids.Solid:
        z = r["z"][node]
        kind = PRIMITIVES[int(sampling.categorical_ppf(r["u"][node, _U["prim"]], p["primitive_w"]))]
        if kind == "sphere":
            value = self._lognormal(p, "sphere_radius", z[_Z["sphere_radius"]])
            mesh = solids.sphere(value, self.sphere_subdivisions)
        elif kind == "cube":
            value = self._lognormal(p, "box_extent", z[_Z["box_extent"]])
            mesh = solids.box(value)
        elif kind == "truncated_cone":
            ratio_logit = p["cone_top_ratio_mu"][0] + p["cone_top_ratio_sd"][0] * z[_Z["cone_top_ratio"]]
            value = (self._lognormal(p, "cone_radius", z[_Z["cone_radius"]]), 1 / (1 + np.exp(-ratio_logit)),
                     self._lognormal(p, "cone_height", z[_Z["cone_height"]]))
            mesh = solids.truncated_cone(*value, sections=self.cone_sections)
        else:
            value = self._lognormal(p, "tetra_size", z[_Z["tetra_size"]])
            mesh = solids.tetrahedron(value)
        meta["primitives"].append(kind)
        meta["params"].append((kind, np.atleast_1d(np.asarray(value, np.float64)).tolist()))
        return mesh

    def _expand(self, node, depth, p, r, meta, lazy):
        meta["csg_nodes"] += 1
        u = r["u"][node]
        if depth >= self.max_depth or u[_U["expand"]] >= p["p_expand"][0]:
            return self._primitive(node, p, r, meta)
        left = self._expand(2 * node, depth + 1, p, r, meta, lazy)
        right = self._expand(2 * node + 1, depth + 1, p, r, meta, lazy)
        right = self._transform(node, left, right, p, r, meta)
        union = u[_U["op"]] < p["p_union"][0]
        if union and lazy:
            return _Union(left, right)
        return self._boolean(left, right, union, meta)

    def _boolean(self, left, right, union: bool, meta):
        out = solids.boolean(self._materialise(left, meta), self._materialise(right, meta), union)
        if out is None:
            meta["csg_fallbacks"] += 1
            return left
        return out

    def _materialise(self, tree, meta) -> solids.Solid:
        """A node as one solid: its unions computed, depth first, in tree order."""
        while isinstance(tree, _Union):
            tree = self._boolean(tree.left, tree.right, True, meta)
        return tree

    def _transform(self, node, parent, child, p, r, meta):
        """T = attach · translate · rotate · scale, applied to the child."""
        z = r["z"][node]
        scale = self._lognormal(p, "scale", z[_Z["scale"]])
        angle = self._lognormal(p, "angle", z[_Z["angle"]])
        offset = self._lognormal(p, "offset", z[_Z["offset"]])
        point, direction = primitives.surface_point_of(*_soup(parent), z[_Z["attach"]])
        m = np.eye(4)
        m[:3, :3] = sampling.axis_angle_rotation(z[_Z["axis"]], angle) * scale
        m[:3, 3] = point + offset * direction
        meta["transforms"].append((float(scale), float(angle), float(offset)))
        meta["attach"].append(m[:3, 3].copy())
        return _map(child, lambda s: solids.transform(s, m))

    # ---- scene ---------------------------------------------------------------------------------
    def generate(self, beta, seed: int) -> Scene:
        tree, meta = self._grow(beta, seed, lazy=True)
        return self.frame(_soup(tree), seed, {k: meta[k] for k in ("csg_nodes", "csg_fallbacks")})

    def frame(self, mesh, seed: int, meta: dict | None = None) -> Scene:
        """Pose (uniform random rotation), centre and scale a mesh into the unit sphere, and light
        it, all from the seed's draws. The camera sits at ``camera_distance`` on +z looking at the
        origin, so the world frame is the camera frame. ``mesh``: a trimesh mesh or a Solid."""
        vertices, faces = (mesh.vertices, mesh.faces) if isinstance(mesh, trimesh.Trimesh) else mesh
        r = self.draws(seed)
        v = vertices @ sampling.uniform_rotation(r["pose"]).T
        v = v - 0.5 * (v.min(0) + v.max(0))
        v = v / max(np.linalg.norm(v, axis=1).max(), 1e-9)      # bounding sphere radius 1
        eye = np.array([0.0, 0.0, self.camera_distance])
        lights = sampling.random_lights(r["light_u"], self.min_lights, self.max_lights, self.light_cone_deg,
                                        self.light_intensity)
        return Scene(meshes=(MeshPart(v, np.asarray(faces)),),
                     camera=Camera(look_at(eye, (0, 0, 0)), yfov=self.yfov),
                     lights=tuple(lights), ambient=0.0, width=self.image_size, height=self.image_size,
                     meta=dict(meta or {}))
