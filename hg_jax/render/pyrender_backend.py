"""Headless pyrender (the ``pyrender2`` package) renderer with exact ground truth. No jax here.

One ``render(scene)`` makes up to three passes with the same camera (``maps`` names the maps the
caller needs; a pass no requested map needs is skipped, which is most of a render's cost):

1. **lit**: pyrender's PBR shader, materials non-metallic with roughness 1 (close to Lambertian;
   pyrender adds a small Fresnel specular term, F0 = 0.04). pyrender writes gamma-encoded colour
   (``pow(c, 1/2.2)``); we undo it, so ``color`` is linear.
2. **albedo**: the same meshes with ``RenderFlags.FLAT`` (no lighting). Every part's base colour
   is given to pyrender as an sRGB texture (a constant part gets a 1×1 texture), which the lit
   shader decodes to linear and the flat shader passes through raw; we apply the same sRGB→linear
   curve to the flat output, so ``albedo`` is exactly the linear base colour the lit pass used.
   Per-vertex colours (``MeshPart.vertex_colors``) multiply the lit result (pyrender's COLOR_0,
   so the small specular term is scaled by them too) and reach the flat pass sRGB-encoded.
3. **id**: every triangle gets its own 24-bit colour (vertices un-shared), rendered flat; the
   decoded face index gives each pixel's triangle, whose geometric normal (``smooth=False``) or
   barycentric interpolation of vertex normals along the pixel's ray (``smooth=True``) is the
   exact ground-truth normal, rotated into the camera frame (+X right, +Y up, +Z to the viewer).
   Without this pass the mask is ``depth > 0``: the same rasterisation of the same triangles.

Multisampling is switched off in this process (pyrender enables 4× MSAA for lit passes), so the
image and every ground-truth map sample the same point of each pixel and triangle ids are never
blended at edges. pyrender is not thread-safe: use one renderer per process (``get_renderer``).

GL platform: ``PYOPENGL_PLATFORM`` if set; otherwise EGL if a probe subprocess can create an EGL
context, else OSMesa. The choice is written to the environment, so worker processes inherit it.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from hg_jax.colour import linear_to_srgb, srgb_to_linear
from hg_jax.render.scene import Scene

MAPS = ("color", "albedo", "normals", "depth", "mask", "face")

_PROBE = ("import pyrender; r = pyrender.OffscreenRenderer(8, 8); "
          "s = pyrender.Scene(); s.add(pyrender.PerspectiveCamera(0.5)); r.render(s); r.delete()")


def choose_platform() -> str:
    """Pick (once per process tree) the GL platform before OpenGL is imported."""
    if os.environ.get("PYOPENGL_PLATFORM"):
        return os.environ["PYOPENGL_PLATFORM"]
    for platform in ("egl", "osmesa"):
        env = {**os.environ, "PYOPENGL_PLATFORM": platform}
        ok = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, timeout=120)
        if ok.returncode == 0:
            os.environ["PYOPENGL_PLATFORM"] = platform
            return platform
    raise RuntimeError("no headless GL: neither EGL nor OSMesa could create a context. Install "
                       "Debian's libegl1 libegl-mesa0 (EGL) or libosmesa6 (OSMesa); see setup.sh")


def _import_pyrender():
    choose_platform()
    import pyrender
    import pyrender.renderer as prr
    from OpenGL import GL

    if not getattr(prr, "_hg_jax_no_msaa", False):
        enable = prr.glEnable  # GL_MULTISAMPLE is on by default: turn it off where pyrender turns it on
        prr.glEnable = lambda cap: GL.glDisable(cap) if cap == GL.GL_MULTISAMPLE else enable(cap)
        prr._hg_jax_no_msaa = True
    return pyrender


# linear_to_srgb of every uint8 value, rounded back to uint8: textures arrive as uint8, and the
# float curve over a 512² texture costs tens of ms per render
_SRGB_LUT = np.round(linear_to_srgb(np.arange(256) / 255.0) * 255).astype(np.uint8)


def _face_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    return _triangle_normals(v[f])


def _triangle_normals(tri: np.ndarray) -> np.ndarray:
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)


def _vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals (cross products are already area-weighted)."""
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, f[:, k], n)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-30)


def _light_pose(direction) -> np.ndarray:
    """pyrender's directional light shines along its node's -Z."""
    d = np.asarray(direction, np.float64)
    z = -d / np.linalg.norm(d)
    helper = np.array([0.0, 1.0, 0.0]) if abs(z[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2] = x, np.cross(z, x), z
    return pose


def _ordered_lights_scene(pr):
    """A pyrender Scene class that hands the renderer its lights in the order they were added.

    pyrender keeps light nodes in sets and binds them to the shader's light slots in set order,
    which follows the nodes' memory addresses and so changes from render to render; the shader sums
    the lights slot by slot, and float addition is not associative: a pixel of one scene came out
    one 8-bit level apart between two renders (benchmarks/render_repro.py). Fixing the order makes
    a render a function of its scene."""

    class Scene(pr.Scene):
        @property
        def light_nodes(self):
            return sorted(super().light_nodes, key=lambda n: n.name)

    return Scene


class PyrenderRenderer:
    def __init__(self, width: int, height: int):
        self.pyrender = _import_pyrender()
        self._Scene = _ordered_lights_scene(self.pyrender)
        self.width, self.height = int(width), int(height)
        self._r = self.pyrender.OffscreenRenderer(self.width, self.height)
        # Magnified texels stay sharp (a texel's albedo is exactly its value); minification is
        # mip-mapped against aliasing. Both lit and albedo passes sample the same way.
        g = self.pyrender.GLTF
        self._sampler = self.pyrender.Sampler(magFilter=g.NEAREST, minFilter=g.LINEAR_MIPMAP_LINEAR)

    def close(self):
        if self._r is not None:
            self._r.delete()
            self._r = None

    # ---- pyrender objects ----------------------------------------------------------------------
    def _camera(self, cam):
        pr = self.pyrender
        if cam.intrinsics is not None:
            fx, fy, cx, cy = cam.intrinsics
            return pr.IntrinsicsCamera(fx, fy, cx, cy, znear=cam.znear, zfar=cam.zfar)
        return pr.PerspectiveCamera(yfov=cam.yfov, aspectRatio=self.width / self.height,
                                    znear=cam.znear, zfar=cam.zfar)

    def _part_primitive(self, part, flat: bool = False):
        """A textured or vertex-coloured part as its own primitive. Vertex colours ride on a white
        texture as pyrender's COLOR_0: the lit shader multiplies its linear result by them, the flat
        shader passes them through raw, so for the albedo pass (``flat``) they go in sRGB-encoded,
        as a texture's texels do."""
        pr = self.pyrender
        if part.texture is not None:
            if part.uv is None:
                raise ValueError("MeshPart.texture needs MeshPart.uv (one (u, v) per vertex)")
            tex = np.asarray(part.texture)
            uv = np.asarray(part.uv, np.float64)
        else:
            tex = np.asarray(part.color if part.vertex_colors is None else (1.0, 1.0, 1.0), np.float64)[None, None, :3]
            uv = np.zeros((len(part.vertices), 2))
        if tex.dtype == np.uint8:
            tex_srgb = _SRGB_LUT[tex[..., :3]]
        else:
            tex_srgb = np.round(linear_to_srgb(tex[..., :3].astype(np.float64)) * 255).astype(np.uint8)
        pos, nrm, idx, src = _geometry(part)
        material = pr.MetallicRoughnessMaterial(
            baseColorFactor=[1.0, 1.0, 1.0, 1.0], metallicFactor=0.0, roughnessFactor=1.0,
            baseColorTexture=pr.Texture(source=tex_srgb, source_channels="RGB", sampler=self._sampler))
        color_0 = None
        if part.vertex_colors is not None:
            vc = np.clip(np.asarray(part.vertex_colors, np.float64)[src, :3], 0.0, 1.0)
            color_0 = (linear_to_srgb(vc) if flat else vc).astype(np.float32)
        return pr.Primitive(positions=pos.astype(np.float32), normals=nrm.astype(np.float32),
                            texcoord_0=uv[src].astype(np.float32), color_0=color_0,
                            indices=idx.astype(np.uint32), material=material)

    def _palette_primitive(self, soup, plain):
        """All untextured parts (indices ``plain``) as one primitive: pyrender's cost is per
        primitive (uniforms, lights, GL objects; 43 parts of an indoor scene took 2/3 of a render),
        so one draw call replaces many. Each part's colour is one texel of a palette texture,
        encoded exactly as ``_part_primitive`` encodes its 1×1 texture, and sampled with NEAREST
        filters (no mip blending across texels): the pixels are the same as with one primitive per
        part."""
        pr = self.pyrender
        pos, nrm, idx, texel, offset = [], [], [], [], 0
        for k, i in enumerate(plain):
            p, nr, ix = soup.geometry(i)
            pos.append(p), nrm.append(nr), idx.append(ix + offset), texel.append(np.full(len(p), k))
            offset += len(p)
        n = len(plain)
        u = (np.concatenate(texel) + 0.5) / n
        colors = np.array([np.asarray(soup.parts[i].color, np.float64)[:3] for i in plain])
        palette = np.round(linear_to_srgb(colors) * 255).astype(np.uint8)[None]      # (1, n, 3)
        g = pr.GLTF
        material = pr.MetallicRoughnessMaterial(
            baseColorFactor=[1.0, 1.0, 1.0, 1.0], metallicFactor=0.0, roughnessFactor=1.0,
            baseColorTexture=pr.Texture(source=palette, source_channels="RGB",
                                        sampler=pr.Sampler(magFilter=g.NEAREST, minFilter=g.NEAREST)))
        return pr.Primitive(positions=np.concatenate(pos).astype(np.float32),
                            normals=np.concatenate(nrm).astype(np.float32),
                            texcoord_0=np.stack([u, np.full_like(u, 0.5)], 1).astype(np.float32),
                            indices=np.concatenate(idx).astype(np.uint32), material=material)

    # ---- passes ----------------------------------------------------------------------------------
    def render(self, scene: Scene, maps=MAPS) -> dict:
        """The requested ``maps`` (a subset of MAPS; "color", "depth" and "mask" always come)."""
        pr = self.pyrender
        unknown = set(maps) - set(MAPS)
        if unknown:
            raise ValueError(f"unknown maps {sorted(unknown)}; allowed {MAPS}")
        if (scene.width, scene.height) != (self.width, self.height):
            raise ValueError(f"scene is {scene.width}x{scene.height}, renderer {self.width}x{self.height}")
        if not scene.meshes:
            raise ValueError("scene has no meshes")
        cam = self._camera(scene.camera)
        pose = np.asarray(scene.camera.pose, np.float64)

        lit = self._Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=[scene.ambient] * 3)
        soup = _Soup(scene.meshes)
        plain = [i for i, p in enumerate(scene.meshes) if p.texture is None and p.vertex_colors is None]
        own = [p for p in scene.meshes if p.texture is not None or p.vertex_colors is not None]
        lit.add(pr.Mesh([self._part_primitive(p) for p in own]
                        + ([self._palette_primitive(soup, plain)] if plain else [])))
        lit.add(cam, pose=pose)
        for i, light in enumerate(scene.lights):
            lit.add(pr.DirectionalLight(color=list(light.color), intensity=float(light.intensity)),
                    pose=_light_pose(light.direction), name=f"light_{i:04d}")
        color_u8, depth = self._r.render(lit)
        out = {}
        if "albedo" in maps:
            flat = lit
            if any(p.vertex_colors is not None for p in own):
                flat = pr.Scene(bg_color=[0.0, 0.0, 0.0, 0.0], ambient_light=[scene.ambient] * 3)
                flat.add(pr.Mesh([self._part_primitive(p, flat=True) for p in own]
                                 + ([self._palette_primitive(soup, plain)] if plain else [])))
                flat.add(cam, pose=pose)
            albedo_u8, _ = self._r.render(flat, flags=pr.RenderFlags.FLAT)
        if "normals" not in maps and "face" not in maps:
            mask = depth > 0
        else:
            mask, out["face"], out["normals"] = self._id_pass(scene, soup, depth, pose)
        color = ((color_u8[..., :3].astype(np.float64) / 255.0) ** 2.2) * mask[..., None]
        out["color"] = color.astype(np.float32)
        if "albedo" in maps:
            albedo = srgb_to_linear(albedo_u8[..., :3].astype(np.float64) / 255.0) * mask[..., None]
            out["albedo"] = albedo.astype(np.float32)
        out["depth"] = (depth * mask).astype(np.float32)
        out["mask"] = mask
        return out

    def _id_pass(self, scene, soup, depth, pose):
        """Every pixel's triangle, the mask and the exact normals."""
        pr = self.pyrender
        # id pass: one colour per triangle over all parts
        tri = soup.tri
        n_faces = len(tri)
        if n_faces >= 2 ** 24 - 1:
            raise ValueError(f"scene has {n_faces} triangles; the id pass supports < 2^24")
        ids = np.arange(1, n_faces + 1)
        rgb = np.stack([(ids >> 16) & 255, (ids >> 8) & 255, ids & 255], axis=1).astype(np.uint8)
        id_scene = pr.Scene(bg_color=[0.0, 0.0, 0.0, 0.0])
        id_scene.add(pr.Mesh([pr.Primitive(positions=tri.reshape(-1, 3).astype(np.float32),
                                           color_0=np.repeat(rgb, 3, axis=0),
                                           indices=np.arange(3 * n_faces, dtype=np.uint32).reshape(-1, 3),
                                           material=pr.MetallicRoughnessMaterial(
                                               baseColorFactor=[1.0, 1.0, 1.0, 1.0]))]))
        id_scene.add(self._camera(scene.camera), pose=pose)
        id_u8, _ = self._r.render(id_scene, flags=pr.RenderFlags.FLAT)
        face = (id_u8[..., 0].astype(np.int64) << 16 | id_u8[..., 1].astype(np.int64) << 8
                | id_u8[..., 2].astype(np.int64)) - 1
        mask = (face >= 0) & (depth > 0)
        face = np.where(mask, face, -1)

        normals = self._normals(scene, soup, face, mask, pose)
        return mask, face, normals.astype(np.float32)

    def _pixel_rays(self, scene) -> np.ndarray:
        """Camera-frame direction through every pixel centre (OpenGL frame, z = -1)."""
        h, w = self.height, self.width
        if scene.camera.intrinsics is not None:
            fx, fy, cx, cy = scene.camera.intrinsics
        else:
            fy = 0.5 * h / np.tan(0.5 * scene.camera.yfov)
            fx, cx, cy = fy, 0.5 * w, 0.5 * h
        u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
        return np.stack([(u - cx) / fx, -(v - cy) / fy, -np.ones_like(u)], axis=-1)

    def _normals(self, scene, soup, face, mask, pose) -> np.ndarray:
        rot = pose[:3, :3]                      # camera-to-world rotation
        out = np.zeros((self.height, self.width, 3))
        hit = face[mask]
        n_world = soup.face_normals[hit]        # exact for flat parts; smooth parts replaced below
        smooth = [i for i, p in enumerate(soup.parts) if p.smooth]
        if smooth:
            part = np.searchsorted(soup.offsets, hit, side="right") - 1
            rays = self._pixel_rays(scene)[mask] @ rot.T
            for i in smooth:
                sel = part == i
                if np.any(sel):
                    n_world[sel] = _interpolated_normals(soup.verts[i], soup.faces[i],
                                                         hit[sel] - soup.offsets[i], rays[sel], pose[:3, 3])
        n_cam = n_world @ rot                   # R^T n for each row
        out[mask] = n_cam / np.linalg.norm(n_cam, axis=1, keepdims=True)
        return out


class _Soup:
    """A scene's parts as one triangle soup, with every triangle's geometric normal computed once
    for the lit pass, the id pass and the normal map (per part, these were ~1/3 of an indoor
    render)."""

    def __init__(self, parts):
        self.parts = parts
        self.verts = [np.asarray(p.vertices, np.float64) for p in parts]
        self.faces = [np.asarray(p.faces, np.int64) for p in parts]
        self.offsets = np.cumsum([0] + [len(f) for f in self.faces])
        self.tri = np.concatenate([v[f] for v, f in zip(self.verts, self.faces)])       # (F, 3, 3)
        self.face_normals = _triangle_normals(self.tri)

    def geometry(self, i):
        """Part i's positions, normals and indices, as ``_geometry`` gives them."""
        if self.parts[i].smooth:
            return _geometry(self.parts[i])[:3]
        a, b = self.offsets[i], self.offsets[i + 1]
        return (self.tri[a:b].reshape(-1, 3), np.repeat(self.face_normals[a:b], 3, axis=0),
                np.arange(3 * (b - a)).reshape(-1, 3))


def _geometry(part):
    """Positions, normals and indices of a part: shared vertices when smooth, else un-shared so
    each triangle is shaded with its own geometric normal; and the map to the input vertices."""
    v = np.asarray(part.vertices, np.float64)
    f = np.asarray(part.faces, np.int64)
    if part.smooth:
        return v, _vertex_normals(v, f), f, np.arange(len(v))
    return (v[f].reshape(-1, 3), np.repeat(_face_normals(v, f), 3, axis=0),
            np.arange(3 * len(f)).reshape(-1, 3), f.reshape(-1))


def _interpolated_normals(v, f, face_idx, ray_dirs_world, origin) -> np.ndarray:
    """Barycentric interpolation of vertex normals where each pixel's ray hits its triangle."""
    vn = _vertex_normals(v, f)
    a, b, c = v[f[face_idx, 0]], v[f[face_idx, 1]], v[f[face_idx, 2]]
    e1, e2 = b - a, c - a
    p = np.cross(ray_dirs_world, e2)
    det = np.einsum("ij,ij->i", e1, p)
    t_vec = origin[None] - a
    inv = 1.0 / np.where(np.abs(det) < 1e-30, 1e-30, det)
    u = np.einsum("ij,ij->i", t_vec, p) * inv
    q = np.cross(t_vec, e1)
    w = np.einsum("ij,ij->i", ray_dirs_world, q) * inv
    u, w = np.clip(u, 0, 1), np.clip(w, 0, 1)
    bary0 = np.clip(1 - u - w, 0, 1)
    n = (bary0[:, None] * vn[f[face_idx, 0]] + u[:, None] * vn[f[face_idx, 1]]
         + w[:, None] * vn[f[face_idx, 2]])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)


_RENDERERS: dict[tuple[int, int], PyrenderRenderer] = {}


def get_renderer(width: int, height: int) -> PyrenderRenderer:
    """This process's renderer for a size (pyrender is not thread-safe: one per process)."""
    key = (int(width), int(height))
    if key not in _RENDERERS:
        _RENDERERS[key] = PyrenderRenderer(*key)
    return _RENDERERS[key]
