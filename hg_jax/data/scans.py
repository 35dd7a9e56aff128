"""Real face scans for the face-depth experiment (paper §5.3): loading, normalisation into the face
model's frame, and the re-rendering protocol. Host side (numpy + trimesh + PIL), no jax.

Folder layout: any ``*.obj`` / ``*.ply`` under a folder (recursively), one scan per file, named by
its path relative to the folder without the extension (``../shared/data/faces/scans``: ``james``).
Beside a scan ``<stem>.obj`` the loader reads, when present:

- ``<stem>.ljson``: landmarks (menpo LJSON v1, v2 or v3). Labelled groups (``leye``/``reye``/
  ``left_eye``/``right_eye``, ``leyebrow``/..., ``nose``, ``mouth``) are used by label; 68 unlabelled
  points are taken in iBUG-68 order.
- ``<stem>.json``: per-scan overrides, all optional: ``"rotation"`` (3×3, applied first, mapping the
  file's frame to +Y up / face looking +Z) or ``"up"`` and ``"forward"`` vectors (same purpose);
  ``"units_to_cm"`` (file unit in cm, e.g. 0.1 for mm); ``"align"`` (see below);
  ``"crop_margin_cm"`` (number, or null for no crop); ``"landmarks"`` (68×3 in iBUG order).
- textures through the OBJ's MTL (``map_Kd``), as trimesh reads them; sRGB decoded to linear and
  box-reduced to ``max_texture`` a side. A scan without a texture gets its MTL ``Kd`` / vertex colours'
  mean, or 0.7 gray.

Normalisation (``normalize_scan``), into the reference model's frame (the generator's model, ICT by
default: centimetres, +Y up, +X to the subject's left, the face looking +Z):

1. orientation: the file is assumed to be +Y up with the face looking +Z, unless the json says otherwise;
2. ``align="similarity"`` (default when landmarks exist): the rotation, scale and translation that
   best map the scan's landmark-group centroids (the two eyes, two brows, nose, mouth; left/right
   assigned by x so label conventions do not matter) onto the reference neutral face's same centroids
   (Umeyama least squares, no reflection). This corrects residual head tilt and the file's units.
   ``align="scale"``: no rotation; scale = ratio of inter-ocular distances (eye-centroid distance),
   translation = centroid match. ``align="bbox"`` (the fallback without landmarks): no rotation; scale
   ``units_to_cm`` if given, else the ratio of bounding-box heights; bounding-box centres matched.
3. crop (``crop_margin_cm``, default 1 cm): keep the triangles whose three vertices lie inside the
   reference neutral mesh's bounding box grown by the margin, so a scan's hair, ears and back of head
   do not give it a silhouette the model never has. ``None`` keeps everything.

Re-rendering protocol (``render_scans``): every scan × 9 head poses (yaw ∈ {−30, 0, 30}° ×
pitch ∈ {−15, 0, 15}°, roll 0, the generator's conventions and pivot) × 3 lighting directions (one
directional light of the generator's total intensity, coming from 35° left, frontal-above, and 35°
right; ``LIGHTS``), rendered with the generator's ``scene`` (same camera, distance, field of view,
renderer), so depth is in cm exactly like the generator's. Views are ordered scan-major, then pose,
then light; names are ``<scan>/yaw<y>_pitch<p>/light<k>``.

Split (``split_views``): with one scan, by pose: poses are numbered 0..8 row-major (yaw outer, pitch
inner); validation gets the odd poses (the four edge-middles: (±30°, 0), (0, ±15°)), test the even ones
(frontal and the four corners), each with all three lights, so no pose is shared. With several scans, by
scan: sorted by name, scans at odd positions are test, the others validation (no scan shared).
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
from typing import Optional

import numpy as np

from hg_jax.colour import srgb_to_linear
from hg_jax.render.scene import MeshPart
from hg_jax.errors import DataError, DataNotFound

SPLITS = ("validation", "test")
YAWS_DEG = (-30.0, 0.0, 30.0)
PITCHES_DEG = (-15.0, 0.0, 15.0)
POSES_DEG = tuple((y, p, 0.0) for y in YAWS_DEG for p in PITCHES_DEG)
# directions *towards* the light, model/camera frame (+X right, +Y up, +Z to the camera)
LIGHTS = ((-np.sin(np.radians(35)), 0.25, np.cos(np.radians(35))),
          (0.0, 0.45, 0.9),
          (np.sin(np.radians(35)), 0.25, np.cos(np.radians(35))))
_EYE_LABELS = ("leye", "reye", "left_eye", "right_eye")
_BROW_LABELS = ("leyebrow", "reyebrow", "left_eyebrow", "right_eyebrow")


def default_root() -> str:
    from hg_jax.data.face_model import default_data_root

    return os.path.join(default_data_root(), "faces", "scans")


@dataclasses.dataclass(frozen=True, eq=False)
class FaceScan:
    name: str
    parts: tuple                      # tuple[MeshPart, ...] in the reference model frame (cm)
    landmarks: Optional[dict]         # group name -> (3,) centroid, reference frame, or None
    transform: np.ndarray             # (4, 4) file frame -> reference frame (similarity)
    align: str


# ---- landmarks ----------------------------------------------------------------------------------

def read_ljson(path: str) -> dict:
    """menpo LJSON (v1-v3) -> {"points": (N, 3) float (NaN where null), "labels": {label: [indices]}}."""
    with open(path) as f:
        d = json.load(f)
    points, labels = None, {}
    if "groups" in d and isinstance(d["groups"], dict):          # v3: groups -> {name: {landmarks, labels}}
        group = d["groups"].get("LJSON") or next(iter(d["groups"].values()))
        points = group["landmarks"]["points"]
        labels = {lab["label"]: list(lab["mask"]) for lab in group.get("labels", [])}
    elif "landmarks" in d:                                        # v2
        points = d["landmarks"]["points"]
        labels = {lab["label"]: list(lab["mask"]) for lab in d.get("labels", [])}
    elif "groups" in d:                                           # v1: [{label, landmarks: [{point}]}]
        points = []
        for g in d["groups"]:
            start = len(points)
            points += [lm["point"] for lm in g["landmarks"]]
            labels[g["label"]] = list(range(start, len(points)))
    if points is None:
        raise DataError(f"{path}: not a menpo LJSON landmark file (no 'landmarks' or 'groups')")
    pts = np.array([[np.nan] * 3 if p is None else p for p in points], np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise DataError(f"{path}: expected 3D landmark points, got shape {pts.shape}")
    return {"points": pts, "labels": labels}


def landmark_anchors(points: np.ndarray, labels: dict | None = None) -> dict:
    """Group centroids in the model's naming (eye_right = smaller x, i.e. the subject's right eye when
    the face looks +Z): eye_right, eye_left, brow_right, brow_left, nose, mouth (those available)."""
    from hg_jax.data.face_model import IBUG68_GROUPS

    def centroid(idx):
        p = points[list(idx)]
        p = p[np.all(np.isfinite(p), axis=1)]
        return p.mean(0) if len(p) else None

    groups = {}
    if labels:
        eyes = [centroid(labels[k]) for k in _EYE_LABELS if k in labels]
        brows = [centroid(labels[k]) for k in _BROW_LABELS if k in labels]
        for name in ("nose", "mouth"):
            if name in labels:
                groups[name] = centroid(labels[name])
    elif len(points) == 68:
        g = {k: centroid(v) for k, v in IBUG68_GROUPS.items()}
        eyes, brows = [g["eye_right"], g["eye_left"]], [g["brow_right"], g["brow_left"]]
        groups.update(nose=g["nose"], mouth=g["mouth"])
    else:
        raise DataError(f"{len(points)} unlabelled landmarks: need labelled groups or iBUG-68 order")
    for pair, names in ((eyes, ("eye_right", "eye_left")), (brows, ("brow_right", "brow_left"))):
        pair = [p for p in pair if p is not None]
        if len(pair) == 2:
            pair.sort(key=lambda p: p[0])
            groups.update(zip(names, pair))
    return {k: v for k, v in groups.items() if v is not None}


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (s, R, t) minimising Σ |s R src_i + t − dst_i|², proper rotation (Umeyama 1991)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, sv, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rot = u @ np.diag(d) @ vt
    var = (a ** 2).sum() / len(src)
    s = float((sv * d).sum() / var)
    return s, rot, mu_d - s * rot @ mu_s


# ---- loading ------------------------------------------------------------------------------------

def _texture(image, max_texture: int) -> np.ndarray:
    from PIL import Image


    image = image.convert("RGB")
    if max(image.size) > max_texture:
        f = max(image.size) / max_texture
        image = image.resize((max(1, round(image.size[0] / f)), max(1, round(image.size[1] / f))), Image.BOX)
    return np.round(srgb_to_linear(np.asarray(image, np.float64) / 255.0) * 255.0).astype(np.uint8)


def _load_mesh(path: str, texture: bool, max_texture: int):
    """(vertices, faces, uv or None, texture or None, constant linear colour)."""
    import trimesh


    mesh = trimesh.load(path, force="mesh", process=False)
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise DataError(f"{path}: no triangles")
    v, f = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)
    visual = mesh.visual
    material = getattr(visual, "material", None)
    image = getattr(material, "image", None) if material is not None else None
    uv = getattr(visual, "uv", None)
    if texture and image is not None and uv is not None and len(uv) == len(v):
        return v, f, np.asarray(uv, np.float64), _texture(image, max_texture), (0.7,) * 3
    colour = None
    if material is not None and getattr(material, "diffuse", None) is not None:
        colour = np.asarray(material.diffuse, np.float64)[:3] / 255.0
    elif getattr(visual, "kind", None) == "vertex":
        colour = np.asarray(visual.vertex_colors, np.float64)[:, :3].mean(0) / 255.0
    rgb = (0.7,) * 3 if colour is None or not texture else tuple(float(c) for c in srgb_to_linear(colour))
    return v, f, None, None, rgb


def _orientation(cfg: dict, path: str) -> np.ndarray:
    if "rotation" in cfg:
        r = np.asarray(cfg["rotation"], np.float64)
        if r.shape != (3, 3):
            raise DataError(f"{path}: 'rotation' must be 3x3")
        return r
    if "up" in cfg or "forward" in cfg:
        up = np.asarray(cfg.get("up", (0, 1, 0)), np.float64)
        fwd = np.asarray(cfg.get("forward", (0, 0, 1)), np.float64)
        fwd = fwd / np.linalg.norm(fwd)
        up = up - (up @ fwd) * fwd
        up /= np.linalg.norm(up)
        x = np.cross(up, fwd)
        return np.stack([x, up, fwd])          # rows: file vectors that become +X, +Y, +Z
    return np.eye(3)


def normalize_scan(vertices: np.ndarray, anchors: dict | None, reference, cfg: dict | None = None,
                   where: str = "scan") -> tuple[np.ndarray, str]:
    """(4, 4) similarity taking file coordinates into the reference model frame, and the method used
    (``similarity``, ``scale`` or ``bbox``; see the module doc). ``reference`` is a MorphableModel."""
    cfg = cfg or {}
    rot0 = _orientation(cfg, where)
    v = vertices @ rot0.T
    anchors = {k: rot0 @ p for k, p in (anchors or {}).items()}
    ref = reference.anchors() or {}
    common = [k for k in ("eye_right", "eye_left", "brow_right", "brow_left", "nose", "mouth")
              if k in anchors and k in ref]
    align = cfg.get("align") or ("similarity" if len(common) >= 3 else "bbox")
    m = np.eye(4)
    if align == "similarity":
        if len(common) < 3 or not {"eye_right", "eye_left"} <= set(common):
            raise DataError(f"{where}: align='similarity' needs both eyes and one more landmark group "
                             f"shared with the model, have {common}")
        s, r, t = umeyama(np.stack([anchors[k] for k in common]), np.stack([ref[k] for k in common]))
        m[:3, :3], m[:3, 3] = s * r, t
    elif align == "scale":
        if not {"eye_right", "eye_left"} <= set(common):
            raise DataError(f"{where}: align='scale' needs both eye landmark groups, have {common}")
        s = (np.linalg.norm(ref["eye_left"] - ref["eye_right"])
             / np.linalg.norm(anchors["eye_left"] - anchors["eye_right"]))
        c_src = np.mean([anchors[k] for k in common], axis=0)
        c_dst = np.mean([ref[k] for k in common], axis=0)
        m[:3, :3], m[:3, 3] = s * np.eye(3), c_dst - s * c_src
    elif align == "bbox":
        rv = reference.mean
        s = float(cfg["units_to_cm"]) if "units_to_cm" in cfg else float(np.ptp(rv[:, 1]) / np.ptp(v[:, 1]))
        c_src = 0.5 * (v.min(0) + v.max(0))
        c_dst = 0.5 * (rv.min(0) + rv.max(0))
        m[:3, :3], m[:3, 3] = s * np.eye(3), c_dst - s * c_src
    else:
        raise DataError(f"{where}: align {align!r} not in ('similarity', 'scale', 'bbox')")
    full = np.eye(4)
    full[:3, :3] = m[:3, :3] @ rot0
    full[:3, 3] = m[:3, 3]
    return full, align


def crop_to_box(v, f, lo, hi):
    """Faces with all three vertices inside [lo, hi]; unreferenced vertices dropped. Returns
    (faces re-indexed, kept vertex indices)."""
    inside = np.all((v >= lo) & (v <= hi), axis=1)
    keep_f = f[np.all(inside[f], axis=1)]
    used = np.unique(keep_f)
    remap = -np.ones(len(v), np.int64)
    remap[used] = np.arange(len(used))
    return remap[keep_f], used


def find_scans(folder: str) -> list[str]:
    paths = sorted(p for ext in ("obj", "ply", "OBJ", "PLY")
                   for p in glob.glob(os.path.join(folder, "**", f"*.{ext}"), recursive=True))
    return sorted(set(paths))


def load_scan(path: str, reference, root: str | None = None, texture: bool = True,
              max_texture: int = 512, crop_margin_cm: Optional[float] = 1.0) -> FaceScan:
    """One scan, normalised into ``reference``'s frame (module doc)."""
    stem = os.path.splitext(path)[0]
    name = os.path.relpath(stem, root) if root else os.path.basename(stem)
    cfg = {}
    if os.path.isfile(stem + ".json"):
        with open(stem + ".json") as fh:
            cfg = json.load(fh)
        if not isinstance(cfg, dict):
            raise DataError(f"{stem}.json: expected a JSON object of overrides")
    v, f, uv, tex, colour = _load_mesh(path, texture, max_texture)
    anchors = None
    if "landmarks" in cfg:
        anchors = landmark_anchors(np.asarray(cfg["landmarks"], np.float64))
    elif os.path.isfile(stem + ".ljson"):
        lj = read_ljson(stem + ".ljson")
        anchors = landmark_anchors(lj["points"], lj["labels"])
    m, align = normalize_scan(v, anchors, reference, cfg, where=path)
    vn = v @ m[:3, :3].T + m[:3, 3]
    margin = cfg.get("crop_margin_cm", crop_margin_cm)
    if margin is not None:
        rv = reference.mean
        f, used = crop_to_box(vn, f, rv.min(0) - margin, rv.max(0) + margin)
        if len(f) == 0:
            raise DataError(f"{path}: no triangle left after cropping to the model's box (normalisation "
                             "failed? check the landmarks or give a <stem>.json)")
        vn = vn[used]
        uv = uv[used] if uv is not None else None
    part = MeshPart(vn, f, color=colour, uv=uv, texture=tex, smooth=True)
    lm = None if anchors is None else {k: m[:3, :3] @ p + m[:3, 3] for k, p in anchors.items()}
    return FaceScan(name=name, parts=(part,), landmarks=lm, transform=m, align=align)


def load_scans(folder: str | None = None, reference=None, **kw) -> list[FaceScan]:
    folder = folder or default_root()
    paths = find_scans(folder)
    if not paths:
        raise DataNotFound(f"no .obj / .ply face scans under {folder}")
    if reference is None:
        from hg_jax.generators.faces import get_model

        reference = get_model("")
    return [load_scan(p, reference, root=folder, **kw) for p in paths]


# ---- re-rendering protocol ----------------------------------------------------------------------

def render_scans(folder: str | None = None, size: int = 64, image: str = "gray", generator=None,
                 texture: bool = True, normalize: bool = False, poses_deg=POSES_DEG, lights=LIGHTS,
                 crop_margin_cm: Optional[float] = 1.0) -> dict:
    """Every scan × pose × light (module doc) rendered like the generator's samples.

    Returns ``image`` (N, S, S, C), ``target`` (N, S, S, 1) depth in cm (0 outside), ``mask``
    (N, S, S, 1), ``names`` (N,), and ``scan`` / ``pose`` / ``light`` (N,) integer indices.
    ``generator`` defaults to ``FaceGenerator(image_size=size)``; its model is the normalisation
    reference, its camera and light intensity are used. ``normalize`` applies
    ``imageops.normalize_intensity`` as ``RenderedSampler(normalize=True)`` does.
    """
    from hg_jax.generators.faces import FaceGenerator
    from hg_jax.generators.rendered import make_sample
    from hg_jax.render.pyrender_backend import get_renderer
    from hg_jax.render.scene import Light

    if generator is None:
        generator = FaceGenerator(image_size=size)
    elif generator.image_size != size:
        generator = dataclasses.replace(generator, image_size=size)
    scans = load_scans(folder, generator.model, texture=texture, crop_margin_cm=crop_margin_cm)
    renderer = get_renderer(size, size)
    out = {k: [] for k in ("image", "target", "mask", "names", "scan", "pose", "light")}
    for si, scan in enumerate(scans):
        for pi, pose in enumerate(poses_deg):
            for li, to_light in enumerate(lights):
                d = -np.asarray(to_light, np.float64)
                light = Light(tuple(d / np.linalg.norm(d)), intensity=generator.light_intensity)
                scene = generator.scene(scan.parts, np.radians(pose), (light,))
                sample = make_sample(renderer.render(scene), "depth", image)
                if normalize:
                    from hg_jax.data.imageops import normalize_intensity

                    sample["image"] = np.asarray(normalize_intensity(sample["image"], sample["mask"]), np.float32)
                for k in ("image", "target", "mask"):
                    out[k].append(sample[k])
                out["names"].append(f"{scan.name}/yaw{pose[0]:+g}_pitch{pose[1]:+g}/light{li}")
                out["scan"].append(si)
                out["pose"].append(pi)
                out["light"].append(li)
    res = {k: np.stack(out[k]).astype(np.float32) for k in ("image", "target", "mask")}
    res["names"] = np.array(out["names"])
    for k in ("scan", "pose", "light"):
        res[k] = np.asarray(out[k], np.int64)
    return res


def split_indices(views: dict, split: str) -> np.ndarray:
    """Indices of ``views`` (``render_scans`` output) in ``split`` (rule in the module doc)."""
    if split not in SPLITS:
        raise DataError(f"split {split!r} not in {SPLITS}")
    scans = np.asarray(views["scan"])
    n_scans = len(np.unique(scans))
    if n_scans == 1:
        key = np.asarray(views["pose"]) % 2                 # odd poses: validation, even: test
        want = 1 if split == "validation" else 0
    else:
        # scan indices follow sorted scan names (render order), so position parity = index parity
        key = scans % 2
        want = 0 if split == "validation" else 1
    return np.nonzero(key == want)[0]


def split_views(views: dict, split: str) -> dict:
    """The ``validation`` or ``test`` subset of ``render_scans`` output (disjoint poses with one scan,
    disjoint scans with several; module doc)."""
    idx = split_indices(views, split)
    return {k: np.asarray(v)[idx] for k, v in views.items()}


# ---- the face experiment's real data --------------------------------------------------------------

def render_for_generator(folder: str, generator, image: str = "gray", normalize: bool = True) -> dict:
    """All views of the scans in ``folder`` rendered exactly as the face experiment's real data: with
    ``generator``'s camera, light intensity and model frame, at its image size."""
    return render_scans(folder, size=generator.image_size, image=image, generator=generator, normalize=normalize)


def _subset(views: dict, idx) -> dict:
    idx = np.asarray(idx, np.int64)
    return {k: np.asarray(v)[idx] for k, v in views.items()}


def load_scans_format(path: str, generator, image: str = "gray", normalize: bool = True,
                      objects: str | None = None, views: int | None = None, task: str | None = None) -> dict:
    """``python -m hg_jax.evaluate --format scans``: every view (scan × 9 poses × 3 lights) of the
    scans under ``path``, rendered with the run's generator and input settings
    (``render_for_generator``), as ``dict(image, target, mask, names)`` (+ scan / pose / light indices).

    ``objects``: comma-separated scan names (relative path without extension, e.g. ``james``),
    None for all; ``views``: keep that many views, evenly spaced over the protocol order (so
    poses and lights are covered), None for all; ``task``: None or ``depth`` (the only ground
    truth a scan gives here). This evaluates on *all* views: the run's own test set is only the
    test split (``split_views``), the validation views having steered β.
    """
    if task not in (None, "depth"):
        raise DataError(f"--format scans gives depth ground truth; --task {task!r} is not supported")
    if not os.path.isdir(path):
        raise DataNotFound(f"scan folder {path} does not exist")
    out = render_for_generator(path, generator, image=image, normalize=normalize)
    available = sorted({str(n).split("/yaw")[0] for n in out["names"]})
    scan_of = np.array([str(n).split("/yaw")[0] for n in out["names"]])
    if objects:
        names = [n.strip() for n in objects.split(",") if n.strip()]
        unknown = sorted(set(names) - set(available))
        if unknown:
            raise DataError(f"--objects: {unknown} not found in {path}; available scans: {available}")
        out = _subset(out, np.nonzero(np.isin(scan_of, names))[0])
    if views is not None:
        n = int(views)
        if n < 1:
            raise DataError(f"--views {n}: allowed an integer >= 1")
        total = len(out["names"])
        if n < total:
            out = _subset(out, np.unique(np.round(np.linspace(0, total - 1, n)).astype(np.int64)))
    return out
