"""Path-traced Mitsuba 3 renderer (variant ``scalar_rgb``, CPU) for the same ``Scene``. No jax here.

One ``render(scene, seed)`` is one Mitsuba pass: the ``aov`` integrator wraps a ``path``
integrator, so every camera sample gives the path-traced colour and, from the same first hit, the
depth, shading normal, albedo and triangle index; the film's alpha is the fraction of a pixel's
samples that hit a surface. ``spp`` samples per pixel, box filter, so every map is the mean over
the pixel's area (pyrender samples the pixel centre: maps agree inside surfaces, edges differ):

- ``mask``: alpha > 1/2; every other map is 0 outside it.
- ``depth``, ``albedo``: the mean over the samples that hit (AOV / alpha). Mitsuba's depth AOV is
  the ray distance; we scale it by the pixel-centre ray's cosine to the view axis, so ``depth`` is
  distance along the viewing axis as in pyrender_backend.
- ``normals``: the mean shading normal (Mitsuba interpolates vertex normals when a part is
  ``smooth``, else the face normal: pyrender_backend's ground truth) rotated into the OpenGL
  camera frame and renormalised.
- ``face``: the scene-wide triangle index where every sample of the pixel hit one triangle (the
  mean index is then exact), else -1.

Materials are Lambertian (``diffuse``) with the part's linear colour, per-vertex colours or its texture (raw values,
no sRGB curve, nearest texel: pyrender_backend's albedo). Lights:

- a directional ``Light`` becomes a ``directional`` emitter with irradiance ``intensity × color``
  (pyrender's diffuse term is albedo/π × intensity × cos, so unshadowed surfaces match). Unlike
  pyrender, it casts shadows; in a closed room (the ray from the camera towards the light hits
  geometry) it would light nothing, so there it becomes a ``point`` emitter 90% of the way to that
  hit, with the directional light's irradiance at the camera: a lamp inside the room.
- ``ambient`` becomes a ``constant`` environment of that radiance (an unoccluded surface gets
  ambient × albedo, as in pyrender). A closed room blocks it; interreflection takes its place.

Common random numbers: ``seed`` is Mitsuba's sampler seed, so two scenes rendered with one seed
draw the same random numbers per pixel and their noise is correlated.

Mitsuba's variant is process-global and its thread pool is shared: use one renderer per process
(``get_renderer``) with ``threads`` = 1 in pool workers (the pool gives the parallelism).
"""
from __future__ import annotations

import numpy as np

from hg_jax.render.scene import Scene

VARIANT = "scalar_rgb"
POINT_LIGHT_FRACTION = 0.9   # of the way from the camera to the geometry blocking a light


def _import_mitsuba(threads: int):
    try:
        import drjit as dr
        import mitsuba as mi
    except ImportError as e:
        raise ImportError("render.renderer='mitsuba' needs the mitsuba package: pip install mitsuba "
                          "(setup.sh installs it)") from e
    if mi.variant() != VARIANT:
        mi.set_variant(VARIANT)
    if threads:
        dr.set_thread_count(int(threads))
    return mi


def _geometry(part):
    """Positions, normals, triangles of a part and the map to its input vertices: shared vertices
    with area-weighted normals when smooth, else un-shared with each triangle's own normal, as
    pyrender_backend shades them (Mitsuba interpolates the vertex normals in either case)."""
    v = np.asarray(part.vertices, np.float64)
    f = np.asarray(part.faces, np.int64)
    if part.smooth:
        return v, _vertex_normals(v, f), f, np.arange(len(v))
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)
    return v[f].reshape(-1, 3), np.repeat(n, 3, axis=0), np.arange(3 * len(f)).reshape(-1, 3), f.reshape(-1)


def _vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals, as pyrender_backend shades smooth parts."""
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, f[:, k], n)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-30)


class MitsubaRenderer:
    def __init__(self, width: int, height: int, spp: int = 16, max_depth: int = 6, threads: int = 0):
        if int(spp) < 1:
            raise ValueError(f"spp = {spp!r} is invalid: allowed an integer >= 1 (samples per pixel)")
        self.mi = _import_mitsuba(threads)
        self.width, self.height = int(width), int(height)
        self.spp, self.max_depth = int(spp), int(max_depth)

    def close(self):
        pass

    # ---- Mitsuba objects -----------------------------------------------------------------------
    def _textured_mesh(self, name: str, part):
        mi = self.mi
        if part.uv is None:
            raise ValueError("MeshPart.texture needs MeshPart.uv (one (u, v) per vertex)")
        tex = np.asarray(part.texture)
        tex = tex[..., :3].astype(np.float32) / (255.0 if tex.dtype == np.uint8 else 1.0)
        # raw: the texture already holds linear albedo; nearest: a texel's albedo is its value
        bsdf = {"type": "diffuse", "reflectance": {
            "type": "bitmap", "bitmap": mi.Bitmap(np.ascontiguousarray(tex)), "raw": True,
            "filter_type": "nearest"}}
        pos, nrm, idx, src = _geometry(part)
        uv = np.asarray(part.uv, np.float64)[src].copy()
        uv[:, 1] = 1.0 - uv[:, 1]   # Mitsuba's bitmap has row 0 at v = 0, pyrender's at v = 1
        return self._mesh(name, pos, nrm, idx, bsdf, uv=uv)

    def _plain_mesh(self, name: str, parts):
        """All untextured parts as one mesh, each part's colour a vertex attribute: the AOV
        integrator's cost grows with the number of shapes (62 parts of a room: 15x one mesh)."""
        pos, nrm, idx, col, offset = [], [], [], [], 0
        for part in parts:
            p, n, i, src = _geometry(part)
            pos.append(p), nrm.append(n), idx.append(i + offset)
            col.append(np.broadcast_to(np.asarray(part.color, np.float64)[:3], p.shape) if part.vertex_colors is None
                       else np.asarray(part.vertex_colors, np.float64)[src, :3])
            offset += len(p)
        bsdf = {"type": "diffuse", "reflectance": {"type": "mesh_attribute", "name": "vertex_color"}}
        return self._mesh(name, np.concatenate(pos), np.concatenate(nrm), np.concatenate(idx), bsdf,
                          color=np.concatenate(col))

    def _mesh(self, name, pos, nrm, idx, bsdf, uv=None, color=None):
        mi = self.mi
        props = mi.Properties()
        props["bsdf"] = mi.load_dict(bsdf)
        mesh = mi.Mesh(name, len(pos), len(idx), props=props, has_vertex_normals=True,
                       has_vertex_texcoords=uv is not None)
        p = mi.traverse(mesh)
        p["vertex_positions"] = pos.astype(np.float32).ravel()
        p["vertex_normals"] = nrm.astype(np.float32).ravel()
        p["faces"] = idx.astype(np.uint32).ravel()
        if uv is not None:
            p["vertex_texcoords"] = uv.astype(np.float32).ravel()
        p.update()
        if color is not None:
            mesh.add_attribute("vertex_color", 3, color.astype(np.float32).ravel().tolist())
        return mesh

    def _shapes(self, scene: Scene):
        """Mitsuba meshes by name, and per name the scene-wide index of each of its triangles."""
        counts = [len(p.faces) for p in scene.meshes]
        first = np.concatenate([[0], np.cumsum(counts)])
        plain = [k for k, p in enumerate(scene.meshes) if p.texture is None]
        shapes, tri = {}, {}
        if plain:
            shapes["plain"] = self._plain_mesh("plain", [scene.meshes[k] for k in plain])
            tri["plain"] = np.concatenate([np.arange(first[k], first[k + 1]) for k in plain])
        for k, p in enumerate(scene.meshes):
            if p.texture is not None:
                shapes[f"part{k}"] = self._textured_mesh(f"part{k}", p)
                tri[f"part{k}"] = np.arange(first[k], first[k + 1])
        return shapes, tri

    def _sensor(self, cam):
        mi = self.mi
        w, h = self.width, self.height
        if cam.intrinsics is not None:
            fx, fy, cx, cy = (float(x) for x in cam.intrinsics)
            if abs(fx / fy - 1) > 0.02:
                raise ValueError(f"Camera.intrinsics fx = {fx}, fy = {fy}: the mitsuba renderer allows "
                                 "square pixels only (|fx/fy - 1| <= 2%)")
            fov_y = 2 * np.degrees(np.arctan(0.5 * h / fy))
            # Mitsuba's offsets move the image the other way: + shifts content left / up
            off_x, off_y = (0.5 * w - cx) / w, (0.5 * h - cy) / h
        else:
            fov_y, off_x, off_y = np.degrees(cam.yfov), 0.0, 0.0
        # Mitsuba's camera looks down +Z with +X to the image's left: the OpenGL pose turned 180°
        # about its Y axis
        to_world = np.asarray(cam.pose, np.float64) @ np.diag([-1.0, 1.0, -1.0, 1.0])
        return {"type": "perspective", "fov": float(fov_y), "fov_axis": "y",
                "principal_point_offset_x": float(off_x), "principal_point_offset_y": float(off_y),
                "near_clip": float(cam.znear), "far_clip": float(cam.zfar),
                "to_world": mi.ScalarTransform4f(to_world.tolist()),
                "film": {"type": "hdrfilm", "width": w, "height": h, "rfilter": {"type": "box"},
                         "pixel_format": "rgba"},
                "sampler": {"type": "independent", "sample_count": self.spp}}

    def _emitters(self, scene: Scene, geometry) -> dict:
        mi = self.mi
        eye = np.asarray(scene.camera.pose, np.float64)[:3, 3]
        out = {}
        for k, light in enumerate(scene.lights):
            d = np.asarray(light.direction, np.float64)
            d = d / np.linalg.norm(d)
            e = [float(light.intensity) * float(c) for c in light.color]
            hit = geometry.ray_intersect(mi.Ray3f(mi.ScalarPoint3f(eye), mi.ScalarVector3f(-d)))
            if hit.is_valid():
                r = POINT_LIGHT_FRACTION * float(hit.t)
                out[f"light{k}"] = {"type": "point", "position": (eye - r * d).tolist(),
                                    "intensity": {"type": "rgb", "value": [x * r * r for x in e]}}
            else:
                out[f"light{k}"] = {"type": "directional", "direction": d.tolist(),
                                    "irradiance": {"type": "rgb", "value": e}}
        if scene.ambient > 0:
            out["ambient"] = {"type": "constant", "radiance": {"type": "rgb", "value": float(scene.ambient)}}
        return out

    # ---- render ----------------------------------------------------------------------------------
    def render(self, scene: Scene, seed: int = 0) -> dict:
        mi = self.mi
        if (scene.width, scene.height) != (self.width, self.height):
            raise ValueError(f"scene is {scene.width}x{scene.height}, renderer {self.width}x{self.height}")
        if not scene.meshes:
            raise ValueError("scene has no meshes")
        meshes, tri = self._shapes(scene)
        # geometry only, to find which lights a closed room would block
        geometry = mi.load_dict({"type": "scene", **meshes})
        integrator = {"type": "aov", "aovs": "t:depth,n:sh_normal,a:albedo,s:shape_index,p:prim_index",
                      "image": {"type": "path", "max_depth": self.max_depth, "hide_emitters": True}}
        mscene = mi.load_dict({"type": "scene", "integrator": integrator,
                               "sensor": self._sensor(scene.camera), **meshes,
                               **self._emitters(scene, geometry)})
        img = np.array(mi.render(mscene, seed=int(seed) % 2 ** 32), np.float64)   # (H, W, 4 + 9)
        return self._maps(scene, mscene, tri, img)

    def _maps(self, scene, mscene, tri, img) -> dict:
        alpha = img[..., 3]
        mask = alpha > 0.5
        cover = np.where(mask, alpha, 1.0)[..., None]
        color = img[..., :3] / cover
        t = img[..., 4] / cover[..., 0]
        albedo = img[..., 8:11] / cover
        rot = np.asarray(scene.camera.pose, np.float64)[:3, :3]
        n = img[..., 5:8] @ rot                                  # R^T n per pixel: world -> camera
        n = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
        # Mitsuba starts camera rays on the near plane: t is measured from there
        depth = t * self._axis_cosine(scene.camera) + float(scene.camera.znear)
        face = self._faces(mscene, tri, img[..., 11], img[..., 12], alpha)
        m3 = mask[..., None]
        return {"color": (color * m3).astype(np.float32), "albedo": (albedo * m3).astype(np.float32),
                "normals": (n * m3).astype(np.float32), "depth": (depth * mask).astype(np.float32),
                "mask": mask, "face": np.where(mask, face, -1)}

    def _axis_cosine(self, cam) -> np.ndarray:
        """Cosine between each pixel-centre ray and the view axis (ray distance -> axis depth)."""
        h, w = self.height, self.width
        if cam.intrinsics is not None:
            fx, fy, cx, cy = cam.intrinsics
        else:
            fy = 0.5 * h / np.tan(0.5 * cam.yfov)
            fx, cx, cy = fy, 0.5 * w, 0.5 * h
        u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
        return 1.0 / np.sqrt(((u - cx) / fx) ** 2 + ((v - cy) / fy) ** 2 + 1.0)

    def _faces(self, mscene, tri, shape_mean, prim_mean, alpha) -> np.ndarray:
        """Scene-wide triangle index where all of a pixel's samples hit one triangle, else -1: the
        means over samples are then integers (a pixel straddling triangles almost never is)."""
        names = [s.id() for s in mscene.shapes()]
        lut = np.concatenate([tri[n] for n in names] + [[-1]])
        first = np.concatenate([[0], np.cumsum([len(tri[n]) for n in names])])
        shape_mean = shape_mean - 1.0      # Mitsuba's shape_index AOV counts from 1
        si, pi = np.rint(shape_mean), np.rint(prim_mean)
        exact = ((np.abs(alpha - 1.0) < 1e-6) & (np.abs(shape_mean - si) < 1e-3)
                 & (np.abs(prim_mean - pi) < 1e-3) & (si >= 0) & (si < len(names)))
        si = np.where(exact, si, 0).astype(np.int64)
        g = first[si] + pi.astype(np.int64)
        return np.where(exact & (g < first[-1]), lut[np.clip(g, 0, first[-1])], -1)


_RENDERERS: dict[tuple, MitsubaRenderer] = {}


def get_renderer(width: int, height: int, spp: int = 16, threads: int = 0) -> MitsubaRenderer:
    """This process's renderer for a size and sample count."""
    key = (int(width), int(height), int(spp), int(threads))
    if key not in _RENDERERS:
        _RENDERERS[key] = MitsubaRenderer(width, height, spp=spp, threads=threads)
    return _RENDERERS[key]
