"""Base indoor scenes from files (the E0, P0 of ``perturb.py`` for real scene models), no jax.

A scene folder holds:

- mesh files (``.obj .ply .glb .gltf .off .stl``), read with trimesh, in the base-scene world frame
  (metres, +Y up, the floor the lowest room surface). A ``.glb`` / ``.gltf`` is a scene graph whose
  nodes are objects (named by node); any other file is one object (named by file stem). Objects
  whose name starts with ``room``, ``wall``, ``floor`` or ``ceiling`` are static room geometry
  (never perturbed); every other one is a piece of furniture, re-centred to a local frame at the
  centre of its bounding box's footprint on its lowest point (translation = that point, yaw 0).
  An object's colour is its visual's main colour (sRGB, converted to linear), else light grey.
- ``cameras.json``: either a list of cameras, or an object with ``"cameras"`` and optionally
  ``"intrinsics"`` ([fx, fy, cx, cy, width, height] in pixels of a width x height reference
  image), ``"yfov"`` (radians, used without intrinsics), ``"lights"`` (list of {"direction":
  [x, y, z] (direction of travel), "intensity": float, "color": [r, g, b]}), ``"ambient"`` and
  ``"bounds"`` ([[xmin, ymin, zmin], [xmax, ymax, zmax]]: the room's interior, where perturbed
  objects and cameras are clamped; default: the bounding box of the room geometry, or of
  everything without room geometry). A camera is a 4x4 camera-to-world matrix (OpenGL: looks
  down -Z), ``{"pose": 4x4}``, or ``{"eye": [..], "target": [..], "up": [0, 1, 0]}``.
  Without ``intrinsics`` and ``yfov``, NYU's intrinsics are used.

``save_base_scene`` writes a BaseScene in this layout (one PLY per object in world coordinates,
``room.ply``, ``cameras.json``), so procedural scenes can be exported, edited and read back.
"""
from __future__ import annotations

import json
import os

import numpy as np
import trimesh

from hg_jax.colour import linear_to_srgb, srgb_to_linear
from hg_jax.generators import indoor
from hg_jax.render.scene import Light, MeshPart, look_at
from hg_jax.errors import DataError, DataNotFound

MESH_EXTS = (".obj", ".ply", ".glb", ".gltf", ".off", ".stl")
ROOM_PREFIXES = ("room", "wall", "floor", "ceiling")
DEFAULT_LIGHTS = (Light((0.3, -1.0, 0.2), 2.4), Light((-0.6, -0.5, 0.4), 1.2), Light((0.5, -0.8, -0.6), 0.4))


def _color(mesh: trimesh.Trimesh) -> tuple:
    try:
        vis = mesh.visual
        if isinstance(vis, trimesh.visual.texture.TextureVisuals):
            c = vis.material.main_color
        elif vis.kind == "face":
            c = np.mean(np.asarray(vis.face_colors, np.float64), axis=0)
        elif vis.kind == "vertex":
            c = np.mean(np.asarray(vis.vertex_colors, np.float64), axis=0)
        else:
            return (0.7, 0.7, 0.7)
        return tuple(float(v) for v in srgb_to_linear(np.asarray(c, np.float64)[:3] / 255.0))
    except Exception:
        return (0.7, 0.7, 0.7)


def _parts(mesh: trimesh.Trimesh, where: str) -> list[MeshPart]:
    """One part per distinct face colour (a single part for other visuals)."""
    v, f = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)
    if len(f) == 0 or v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
        raise DataError(f"{where}: expected a triangle mesh with at least one face, got vertices "
                         f"{v.shape} faces {f.shape}")
    if getattr(mesh.visual, "kind", None) == "face":
        fc = np.asarray(mesh.visual.face_colors)[:, :3]
        colors, inverse = np.unique(fc, axis=0, return_inverse=True)
        if 1 < len(colors) <= 256:
            out = []
            for k, c in enumerate(colors):
                sel = f[inverse.reshape(-1) == k]
                used, local = np.unique(sel, return_inverse=True)
                out.append(MeshPart(v[used], local.reshape(-1, 3),
                                    tuple(float(x) for x in srgb_to_linear(c / 255.0))))
            return out
    return [MeshPart(v, f, _color(mesh))]


def read_meshes(path: str) -> list[tuple[str, list]]:
    """(object name, world-space parts) for one mesh file: the nodes of a glTF scene graph, or the
    whole file."""
    stem, ext = os.path.splitext(os.path.basename(path))
    try:
        loaded = trimesh.load(path, force="scene" if ext.lower() in (".glb", ".gltf") else None)
    except Exception as e:
        raise DataError(f"{path}: could not be read as a mesh ({type(e).__name__}: {e})") from e
    if ext.lower() in (".glb", ".gltf"):
        out = []
        for node in loaded.graph.nodes_geometry:
            transform, geom = loaded.graph[node]
            mesh = loaded.geometry[geom]
            if not isinstance(mesh, trimesh.Trimesh):
                continue
            out.append((str(node), _parts(mesh.copy().apply_transform(transform), f"{path} node {node!r}")))
        if not out:
            raise DataError(f"{path}: the glTF scene has no triangle-mesh nodes")
        return out
    if isinstance(loaded, trimesh.Scene):
        if not loaded.geometry:
            raise DataError(f"{path}: no geometry in the file")
        loaded = loaded.to_mesh() if hasattr(loaded, "to_mesh") else loaded.dump(concatenate=True)
    if not isinstance(loaded, trimesh.Trimesh):
        raise DataError(f"{path}: expected a triangle mesh, got {type(loaded).__name__}")
    return [(stem, _parts(loaded, path))]


def _camera(entry, i: int, where: str) -> np.ndarray:
    try:
        if isinstance(entry, dict) and "pose" in entry:
            entry = entry["pose"]
        if isinstance(entry, dict):
            if "eye" not in entry or "target" not in entry:
                raise DataError("a camera object needs 'pose' or 'eye' and 'target'")
            eye, target = np.asarray(entry["eye"], float), np.asarray(entry["target"], float)
            up = np.asarray(entry.get("up", (0.0, 1.0, 0.0)), float)
            if eye.shape != (3,) or target.shape != (3,) or up.shape != (3,):
                raise DataError("eye, target and up must be 3 numbers each")
            if np.linalg.norm(target - eye) < 1e-9:
                raise DataError("eye and target coincide")
            return look_at(eye, target, up)
        pose = np.asarray(entry, dtype=np.float64)
        if pose.shape != (4, 4):
            raise DataError(f"a pose must be a 4x4 matrix, got shape {pose.shape}")
        r = pose[:3, :3]
        if not np.allclose(r.T @ r, np.eye(3), atol=1e-4) or np.linalg.det(r) < 0:
            raise DataError("the pose's 3x3 block is not a rotation")
        if not np.allclose(pose[3], (0, 0, 0, 1)):
            raise DataError("the pose's last row must be 0 0 0 1")
        return pose
    except (TypeError, ValueError) as e:
        raise DataError(f"{where}: camera {i}: {e} (expected a 4x4 camera-to-world matrix, "
                         "{'pose': 4x4} or {'eye', 'target', 'up'})") from e


def load_base_scene(folder: str, name: str | None = None) -> indoor.BaseScene:
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise DataNotFound(f"scene folder {folder} does not exist")
    cam_path = os.path.join(folder, "cameras.json")
    if not os.path.isfile(cam_path):
        raise DataNotFound(f"{cam_path}: missing; a scene folder needs cameras.json (a list of "
                                "camera poses, or {'cameras': [...], 'intrinsics': ...})")
    try:
        with open(cam_path) as fh:
            spec = json.load(fh)
    except json.JSONDecodeError as e:
        raise DataError(f"{cam_path}: not valid JSON ({e})") from e
    if isinstance(spec, list):
        spec = {"cameras": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("cameras"), list) or not spec["cameras"]:
        raise DataError(f"{cam_path}: expected a non-empty list of cameras, or an object with a "
                         "non-empty 'cameras' list")
    known = {"cameras", "intrinsics", "yfov", "lights", "ambient", "bounds"}
    if set(spec) - known:
        raise DataError(f"{cam_path}: unknown keys {sorted(set(spec) - known)}; allowed: {sorted(known)}")
    cameras = tuple(_camera(c, i, cam_path) for i, c in enumerate(spec["cameras"]))

    files = sorted(f for f in os.listdir(folder) if os.path.splitext(f)[1].lower() in MESH_EXTS)
    if not files:
        raise DataError(f"{folder}: no mesh files ({', '.join(MESH_EXTS)})")
    room, objects, names = [], [], set()
    for fname in files:
        for obj_name, parts in read_meshes(os.path.join(folder, fname)):
            if obj_name.lower().startswith(ROOM_PREFIXES):
                room.extend(parts)
                continue
            v = np.concatenate([p.vertices for p in parts])
            lo, hi = v.min(0), v.max(0)
            t = np.array([0.5 * (lo[0] + hi[0]), lo[1], 0.5 * (lo[2] + hi[2])])
            unique = obj_name if obj_name not in names else f"{obj_name}_{len(objects)}"
            names.add(unique)
            objects.append(indoor.SceneObject(
                unique, tuple(MeshPart(p.vertices - t, p.faces, p.color) for p in parts), t, 0.0,
                (float(0.5 * (hi[0] - lo[0])), float(0.5 * (hi[2] - lo[2]))), float(hi[1] - lo[1])))

    if "bounds" in spec:
        bounds = np.asarray(spec["bounds"], np.float64)
        if bounds.shape != (2, 3) or np.any(bounds[1] <= bounds[0]):
            raise DataError(f"{cam_path}: 'bounds' must be [[xmin, ymin, zmin], [xmax, ymax, zmax]] "
                             f"with min < max, got {spec['bounds']}")
    else:
        pts = np.concatenate([p.vertices for p in room] if room else
                             [o.translation + p.vertices for o in objects for p in o.parts])
        bounds = np.stack([pts.min(0), pts.max(0)])

    intrinsics, yfov = indoor.NYU_INTRINSICS, 0.84
    if "intrinsics" in spec:
        k = np.asarray(spec["intrinsics"], np.float64).reshape(-1)
        if k.shape != (6,) or np.any(k[[0, 1, 4, 5]] <= 0):
            raise DataError(f"{cam_path}: 'intrinsics' must be [fx, fy, cx, cy, width, height] with "
                             f"positive fx, fy, width, height, got {spec['intrinsics']}")
        intrinsics = tuple(float(x) for x in k)
    elif "yfov" in spec:
        intrinsics, yfov = None, float(spec["yfov"])
        if not 0 < yfov < np.pi:
            raise DataError(f"{cam_path}: 'yfov' must be in (0, pi) radians, got {yfov}")

    lights = DEFAULT_LIGHTS
    if "lights" in spec:
        try:
            lights = tuple(Light(tuple(float(x) for x in l["direction"]), float(l.get("intensity", 3.0)),
                                 tuple(float(x) for x in l.get("color", (1.0, 1.0, 1.0))))
                           for l in spec["lights"])
            if any(len(l.direction) != 3 or np.linalg.norm(l.direction) == 0 for l in lights):
                raise DataError("a direction must be 3 numbers, not all zero")
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"{cam_path}: 'lights' must be a list of {{'direction': [x, y, z], "
                             f"'intensity': float, 'color': [r, g, b]}} ({e})") from e
    ambient = float(spec.get("ambient", 0.25))
    if room:  # put the lowest-facing-up part first, so part 0 is the floor as in procedural scenes
        room.sort(key=lambda p: float(np.mean(p.vertices[:, 1])))
    return indoor.BaseScene(name=name or os.path.basename(os.path.normpath(folder)), objects=tuple(objects),
                            room=tuple(room), bounds=bounds, lights=lights, ambient=ambient,
                            cameras=cameras, intrinsics=intrinsics, yfov=yfov, meta={"folder": folder})


def save_base_scene(base: indoor.BaseScene, folder: str) -> str:
    """Write ``base`` as a scene folder: ``room.ply`` (all room parts), ``<object>.ply`` per object
    (world coordinates, per-face sRGB colours), ``cameras.json`` (poses, intrinsics or yfov,
    lights, ambient, bounds). Object yaw is baked into the vertices (read back with yaw 0)."""
    os.makedirs(folder, exist_ok=True)

    def export(parts, path):
        meshes = []
        for p in parts:
            m = trimesh.Trimesh(np.asarray(p.vertices, np.float64), np.asarray(p.faces), process=False)
            rgb = np.round(linear_to_srgb(np.asarray(p.color)[:3]) * 255).astype(np.uint8)
            m.visual.face_colors = np.tile(np.append(rgb, 255), (len(p.faces), 1))
            meshes.append(m)
        trimesh.util.concatenate(meshes).export(path)

    if base.room:
        export(base.room, os.path.join(folder, "room.ply"))
    for o in base.objects:
        export(o.world_parts(), os.path.join(folder, f"{o.name}.ply"))
    spec = {"cameras": [np.asarray(c).tolist() for c in base.cameras],
            "lights": [{"direction": list(l.direction), "intensity": l.intensity, "color": list(l.color)}
                       for l in base.lights],
            "ambient": base.ambient, "bounds": np.asarray(base.bounds).tolist()}
    if base.intrinsics is not None:
        spec["intrinsics"] = list(base.intrinsics)
    else:
        spec["yfov"] = base.yfov
    with open(os.path.join(folder, "cameras.json"), "w") as fh:
        json.dump(spec, fh, indent=1)
    return folder
