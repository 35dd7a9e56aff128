"""Shapes with texture coordinates, painted with a generated texture: the scenes of the intrinsic
experiment (paper §5.4). Host side, numpy only.

β is the texture grammar's β (``TexturedShapeGenerator.schema`` is the texture's): the shape, its
pose and the lights come from the seed with a fixed distribution, as the experiment learns only
the textures.

UV convention (MeshPart.uv, as in OBJ files): (0, 0) is the texture image's bottom-left corner,
v grows towards the image's first row; the renderer repeats the texture outside [0, 1].
Texel density is about uniform over a shape: a unit of uv spans about the same world length on
every face (sphere: u ∈ [0, 2) around the equator, v ∈ [0, 1] pole to pole; box faces and
cylinder sides: uv = world length / the shape's largest extent; cylinder caps: planar).

Shapes: ``sphere`` (latitude-longitude, ellipsoidally scaled, smooth), ``box`` (per-face UVs,
flat), ``cylinder`` (cylindrical side, smooth; planar caps, flat), ``union`` (2–3 of these
overlapping: drawn as separate parts, so the depth test shows their union's surface with every
part's own UVs, and no boolean can fail or lose UVs).

Common random numbers: the seed draws a fixed block (shape, up to ``max_parts`` parts' sizes,
poses and uv shifts, lights) and, through ``texture_seed(seed)``, the texture's own block.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from hg_jax.beta import BetaSchema
from hg_jax.generators.sampling import random_lights, uniform_rotation
from hg_jax.generators.textures import TextureGenerator
from hg_jax.render.scene import Camera, Light, MeshPart, Scene, look_at

SHAPES = ("sphere", "box", "cylinder", "union")
_PRIMS = ("sphere", "box", "cylinder")


def texture_seed(seed: int) -> int:
    """The texture's seed, a stream independent of the shape's draws."""
    return int(np.random.SeedSequence([int(seed), 0x7E87]).generate_state(1)[0])


# ---- primitives with UVs: list of (vertices, faces, uv, smooth) -----------------------------------

def uv_sphere(n_lat: int = 24, n_lon: int = 48) -> list[tuple]:
    """Unit sphere, latitude-longitude grid with a duplicated seam column; pole bands are
    triangles (no zero-area faces)."""
    theta = np.linspace(0.0, np.pi, n_lat + 1)               # from the +z pole
    phi = np.linspace(0.0, 2 * np.pi, n_lon + 1)
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    v = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], -1).reshape(-1, 3)
    uv = np.stack([2.0 * ph / (2 * np.pi), 1.0 - th / np.pi], -1).reshape(-1, 2)
    idx = np.arange((n_lat + 1) * (n_lon + 1)).reshape(n_lat + 1, n_lon + 1)
    a, b = idx[:-1, :-1], idx[1:, :-1]                        # (i, j), (i+1, j)
    c, d = idx[1:, 1:], idx[:-1, 1:]                          # (i+1, j+1), (i, j+1)
    lower = np.stack([a, b, c], -1)                           # outward (counter-clockwise from outside)
    upper = np.stack([a, c, d], -1)
    # the first band's ``upper`` and the last band's ``lower`` have two corners on a pole
    faces = np.concatenate([lower[:-1].reshape(-1, 3), upper[1:].reshape(-1, 3)])
    return [(v, faces, uv, True)]


def uv_box(extents) -> list[tuple]:
    """Box centred at the origin, 4 own vertices per face, uv = face coordinates / largest extent."""
    e = np.asarray(extents, np.float64)
    scale = e.max()
    verts, faces, uvs = [], [], []
    for axis in range(3):
        a1, a2 = (axis + 1) % 3, (axis + 2) % 3               # right-handed (a1, a2, axis)
        for sign in (1.0, -1.0):
            # corners in (a1, a2) order counter-clockwise seen from outside along sign·axis
            q = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64)
            if sign < 0:
                q = q[:, ::-1]
            p = np.zeros((4, 3))
            p[:, axis] = sign * e[axis] / 2
            p[:, a1] = q[:, 0] * e[a1] / 2
            p[:, a2] = q[:, 1] * e[a2] / 2
            base = len(verts) * 4
            verts.append(p)
            uvs.append((q + 1) / 2 * np.array([e[a1], e[a2]]) / scale)   # mirrored on the − side: harmless
            faces.append(np.array([[0, 1, 2], [0, 2, 3]]) + base)
    return [(np.concatenate(verts), np.concatenate(faces), np.concatenate(uvs), False)]


def uv_cylinder(radius: float, height: float, sections: int = 48) -> list[tuple]:
    """Cylinder along z centred at the origin: a smooth side with a seam column, flat caps."""
    phi = np.linspace(0.0, 2 * np.pi, sections + 1)
    circ = 2 * np.pi * radius
    scale = max(circ, height)
    ring = np.stack([radius * np.cos(phi), radius * np.sin(phi)], -1)
    bottom = np.column_stack([ring, np.full(sections + 1, -height / 2)])
    top = np.column_stack([ring, np.full(sections + 1, height / 2)])
    side_v = np.concatenate([bottom, top])
    side_uv = np.concatenate([np.stack([phi / (2 * np.pi) * circ / scale, np.zeros_like(phi)], -1),
                              np.stack([phi / (2 * np.pi) * circ / scale, np.full_like(phi, height / scale)], -1)])
    i = np.arange(sections)
    n = sections + 1
    side_f = np.concatenate([np.stack([i, i + 1, n + i + 1], -1), np.stack([i, n + i + 1, n + i], -1)])
    parts = [(side_v, side_f, side_uv, True)]
    for z, sign in ((-height / 2, -1.0), (height / 2, 1.0)):
        rim = np.column_stack([ring[:-1], np.full(sections, z)])
        v = np.vstack([[0.0, 0.0, z], rim])
        uv = (v[:, :2] / scale) + 0.5
        j = np.arange(sections) + 1
        k = np.roll(j, -1)
        f = np.stack([np.zeros_like(j), j, k], -1) if sign > 0 else np.stack([np.zeros_like(j), k, j], -1)
        parts.append((v, f, uv, False))
    return parts


@dataclasses.dataclass(frozen=True)
class TexturedShapeGenerator:
    texture: TextureGenerator = TextureGenerator()
    shapes: tuple = SHAPES               # chosen uniformly from the seed
    max_parts: int = 3                   # a union has 2..max_parts parts
    image_size: int = 64
    camera_distance: float = 3.6         # the framed shape fits in the unit sphere
    yfov: float = 0.6
    min_lights: int = 1
    max_lights: int = 2
    light_cone_deg: float = 60.0
    light_intensity: float = 3.0
    size_sigma: float = 0.3              # log-normal spread of the parts' proportions
    sphere_resolution: int = 24          # latitude bands (2x as many longitude sectors)

    def __post_init__(self):
        bad = [s for s in self.shapes if s not in SHAPES]
        if not self.shapes or bad:
            raise ValueError(f"TexturedShapeGenerator.shapes: {bad or 'empty'}; allowed a non-empty "
                             f"subset of {SHAPES}")
        if not (isinstance(self.max_parts, int) and self.max_parts >= 2):
            raise ValueError(f"TexturedShapeGenerator.max_parts must be an int >= 2, got {self.max_parts!r}")
        if self.image_size < 8:
            raise ValueError(f"TexturedShapeGenerator.image_size must be >= 8, got {self.image_size}")
        if not 1 <= self.min_lights <= self.max_lights:
            raise ValueError("TexturedShapeGenerator lights: need 1 <= min_lights <= max_lights, got "
                             f"{self.min_lights}, {self.max_lights}")
        if not 0 <= self.light_cone_deg <= 90:
            raise ValueError(f"TexturedShapeGenerator.light_cone_deg must be in [0, 90], got {self.light_cone_deg}")
        if not (0 < self.yfov < np.pi and self.camera_distance * np.sin(self.yfov / 2) > 1):
            raise ValueError(f"TexturedShapeGenerator: camera_distance {self.camera_distance} with yfov "
                             f"{self.yfov} crops the unit sphere; need distance·sin(yfov/2) > 1")
        if self.sphere_resolution < 3:
            raise ValueError(f"TexturedShapeGenerator.sphere_resolution must be >= 3, got {self.sphere_resolution}")

    @property
    def schema(self) -> BetaSchema:
        return self.texture.schema

    def default_beta(self) -> np.ndarray:
        return self.texture.default_beta()

    def draws(self, seed: int) -> dict:
        rng = np.random.default_rng(seed)
        m = self.max_parts
        return {"shape": rng.uniform(), "n_parts": rng.uniform(), "kind": rng.uniform(size=m),
                "dims": rng.standard_normal((m, 3)), "rot": rng.standard_normal((m, 4)),
                "offset": rng.standard_normal((m, 3)), "uv_shift": rng.uniform(size=(m, 2)),
                "pose": rng.standard_normal(4), "light_u": rng.uniform(size=(self.max_lights, 3))}

    def _primitive(self, kind: str, z: np.ndarray) -> list[tuple]:
        s = np.exp(self.size_sigma * z)
        if kind == "sphere":
            return [(v * (0.5 * s), f, uv, sm) for v, f, uv, sm in
                    uv_sphere(self.sphere_resolution, 2 * self.sphere_resolution)]
        if kind == "box":
            return uv_box(0.9 * s)
        return uv_cylinder(0.4 * s[0], 1.0 * s[1])

    def parts(self, seed: int) -> tuple[list[tuple], str]:
        """The posed, normalised shape as (vertices, faces, uv, smooth) parts, and its kind."""
        r = self.draws(seed)
        shape = self.shapes[min(int(r["shape"] * len(self.shapes)), len(self.shapes) - 1)]
        if shape == "union":
            n = 2 + min(int(r["n_parts"] * (self.max_parts - 1)), self.max_parts - 2)
            kinds = [_PRIMS[min(int(u * 3), 2)] for u in r["kind"][:n]]
        else:
            n, kinds = 1, [shape]
        out = []
        for i, kind in enumerate(kinds):
            rot = uniform_rotation(r["rot"][i])
            # later parts sit about half a unit from the first, overlapping it
            shift = np.zeros(3) if i == 0 else 0.35 * r["offset"][i]
            for v, f, uv, smooth in self._primitive(kind, r["dims"][i]):
                out.append((v @ rot.T + shift, f, uv + r["uv_shift"][i], smooth))
        pose = uniform_rotation(r["pose"])
        allv = np.concatenate([p[0] for p in out]) @ pose.T
        centre = 0.5 * (allv.min(0) + allv.max(0))
        radius = max(np.linalg.norm(allv - centre, axis=1).max(), 1e-9)
        return [((v @ pose.T - centre) / radius, f, uv, sm) for v, f, uv, sm in out], shape

    def generate(self, beta, seed: int) -> Scene:
        tex = self.texture.texture(beta, texture_seed(seed))
        parts, shape = self.parts(seed)
        r = self.draws(seed)
        lights = random_lights(r["light_u"], self.min_lights, self.max_lights, self.light_cone_deg,
                               self.light_intensity)
        meshes = tuple(MeshPart(v, np.asarray(f, np.int64), uv=uv, texture=tex, smooth=sm)
                       for v, f, uv, sm in parts)
        return Scene(meshes=meshes, camera=Camera(look_at((0, 0, self.camera_distance), (0, 0, 0)), yfov=self.yfov),
                     lights=lights, ambient=0.0, width=self.image_size, height=self.image_size,
                     meta={"shape": shape, "parts": len(parts)})
