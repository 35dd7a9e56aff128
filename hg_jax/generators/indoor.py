"""Procedural base indoor scenes (E0, P0) for the NYU experiment (paper §5.2), host side, no jax.

A *base scene* is the unperturbed input of the perturbation grammar (``perturb.py``): a room, the
furniture in it (each piece in its own local frame plus a placement), lights, and the camera poses
of Zhang et al. CVPR 2017 style views. ``procedural_scene(scene_id)`` builds one deterministically
from an integer id (the id seeds a private numpy Generator; nothing else is random).

Conventions (the world frame of every base scene, procedural or loaded from files):
- +Y is up; the floor is the plane y = ``bounds[0, 1]`` (0 for procedural rooms); the room's
  interior is the box ``bounds`` = [[xmin, ymin, zmin], [xmax, ymax, zmax]] (procedural rooms:
  x ∈ [0, W], y ∈ [0, H], z ∈ [0, D]).
- An object's local frame has its origin at the centre of its footprint on the floor, +Y up and
  its front towards local +Z; world = R_y(yaw) · local + translation.
- Cameras are camera-to-world poses (OpenGL: looking down -Z, +Y up), decomposed as
  R = R_y(yaw) · R_x(pitch) · R_z(roll) (``camera_pose`` / ``camera_angles``); pitch < 0 looks down.
- Intrinsics are stored at a reference resolution, (fx, fy, cx, cy, ref_width, ref_height), and
  scaled to the render size by ``scale_intrinsics`` (NYU Depth V2's colour camera by default:
  horizontal FOV 63°).

Procedural rooms: W 3–7 m × D 3–6 m × H 2.4–3 m; walls, floor and ceiling are 0.1 m thick boxes
(only their inward faces are seen from inside; pyrender culls back faces); one door and 0–2
windows are gaps in walls with a recessed panel behind (a door leaf, a pale "outside" pane), so
every pixel of a view inside the room hits geometry. Furniture (table, chair, bed, sofa, shelf,
cabinet, lamp, nightstand, desk) is assembled from boxes and cylinders with plausible sizes,
mostly backed against walls (front facing into the room), some free-standing (a table with
chairs), placed by rejection so that footprints (oriented rectangles, 5 cm margin) neither overlap
each other nor block the door; tall pieces avoid windows. Lights: a ceiling key light (directional,
mostly downward), a window light and a weak fill, plus ambient. Cameras: eye 1.4–1.7 m high, at
least 0.5 m from walls and outside every footprint, turned towards a piece of furniture 1.5–5 m
away, pitched down 10–25°, no roll. A room has < 1.5k triangles.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import trimesh

from hg_jax.generators import primitives
from hg_jax.generators.sampling import rot_x, rot_y, yaw_pitch_roll
from hg_jax.render.scene import Camera, Light, MeshPart, Scene

NYU_INTRINSICS = (518.86, 519.47, 325.58, 253.74, 640.0, 480.0)   # fx, fy, cx, cy at 640x480
WALL_T = 0.1
FURNITURE = ("table", "chair", "bed", "sofa", "shelf", "cabinet", "lamp", "nightstand", "desk")


# ---- data ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class SceneObject:
    name: str
    parts: tuple                 # tuple[MeshPart, ...] in object-local coordinates
    translation: np.ndarray      # (3,) world position of the local origin (footprint centre, floor)
    yaw: float                   # radians about +Y
    half_extents: tuple          # (hx, hz): local footprint half sizes (local x, local z)
    height: float

    def world_parts(self, translation=None, yaw=None, pitch: float = 0.0, roll: float = 0.0) -> tuple:
        """The parts in world coordinates, at the stored placement or at the one given: world =
        R_y(yaw) R_x(pitch) R_z(roll) · local + translation (stored objects stand upright)."""
        t = self.translation if translation is None else np.asarray(translation, np.float64)
        r = yaw_pitch_roll(self.yaw if yaw is None else float(yaw), float(pitch), float(roll))
        return tuple(dataclasses.replace(p, vertices=np.asarray(p.vertices, np.float64) @ r.T + t)
                     for p in self.parts)

    def footprint(self, translation=None, yaw=None):
        """((x, z) centre, (hx, hz), yaw) of the oriented footprint rectangle."""
        t = self.translation if translation is None else translation
        return (np.array([t[0], t[2]], np.float64), tuple(self.half_extents),
                float(self.yaw if yaw is None else yaw))


@dataclasses.dataclass(frozen=True, eq=False)
class BaseScene:
    name: str
    objects: tuple               # tuple[SceneObject, ...]
    room: tuple                  # tuple[MeshPart, ...] in world coordinates (part 0: the floor, if any)
    bounds: np.ndarray           # (2, 3) interior box [[xmin, ymin, zmin], [xmax, ymax, zmax]]
    lights: tuple                # tuple[Light, ...]
    ambient: float
    cameras: tuple               # tuple[(4, 4) camera-to-world pose, ...]
    intrinsics: Optional[tuple] = NYU_INTRINSICS   # (fx, fy, cx, cy, ref_w, ref_h); None: yfov
    yfov: float = 0.84
    meta: dict = dataclasses.field(default_factory=dict)

    @property
    def num_triangles(self) -> int:
        return (sum(len(p.faces) for p in self.room)
                + sum(len(p.faces) for o in self.objects for p in o.parts))

    def to_scene(self, camera, width: int, height: int, placements=None, meta=None) -> Scene:
        """A renderable Scene. ``camera``: an index into ``cameras`` or a (4, 4) pose;
        ``placements``: one (translation, yaw[, pitch, roll]) per object (default: the stored ones)."""
        pose = self.cameras[camera] if np.ndim(camera) == 0 else np.asarray(camera, np.float64)
        parts = list(self.room)
        for i, o in enumerate(self.objects):
            parts.extend(o.world_parts(*(() if placements is None else placements[i])))
        intr = None if self.intrinsics is None else scale_intrinsics(self.intrinsics, width, height)
        return Scene(meshes=tuple(parts),
                     camera=Camera(np.asarray(pose, np.float64), yfov=self.yfov, intrinsics=intr,
                                   znear=0.05, zfar=100.0),
                     lights=tuple(self.lights), ambient=float(self.ambient), width=int(width),
                     height=int(height), meta=dict(meta or {}))


# ---- geometry helpers -------------------------------------------------------------------------
def camera_pose(eye, yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
    """Camera-to-world pose R_y(yaw) R_x(pitch) R_z(roll) at ``eye``; yaw 0 looks down -Z."""
    pose = np.eye(4)
    pose[:3, :3] = yaw_pitch_roll(yaw, pitch, roll)
    pose[:3, 3] = np.asarray(eye, np.float64)
    return pose


def camera_angles(pose) -> tuple[float, float, float]:
    """(yaw, pitch, roll) with ``camera_pose(pose[:3, 3], yaw, pitch, roll) == pose``."""
    r = np.asarray(pose, np.float64)[:3, :3]
    f = -r[:, 2]                                       # viewing direction
    pitch = float(np.arcsin(np.clip(f[1], -1.0, 1.0)))
    yaw = float(np.arctan2(-f[0], -f[2])) if np.hypot(f[0], f[2]) > 1e-9 else 0.0
    m = rot_x(pitch).T @ rot_y(yaw).T @ r               # = R_z(roll)
    return yaw, pitch, float(np.arctan2(m[1, 0], m[0, 0]))


def centre_crop_intrinsics(intrinsics) -> tuple:
    """(fx, fy, cx, cy, ref_w, ref_h) of the centred square crop of a ref_w x ref_h image: what the
    real loaders feed the network (data/rgbd.py crops 640x480 frames to their central 480x480)."""
    fx, fy, cx, cy, rw, rh = (float(v) for v in intrinsics)
    s = min(rw, rh)
    return (fx, fy, cx - 0.5 * (rw - s), cy - 0.5 * (rh - s), s, s)


def scale_intrinsics(intrinsics, width: int, height: int) -> tuple:
    """(fx, fy, cx, cy, ref_w, ref_h) -> (fx, fy, cx, cy) for a width x height image: the pixel
    scale is width / ref_w (square pixels kept, so the horizontal FOV is kept); the principal
    point keeps its offset from the image centre in scaled pixels (a centred crop when the aspect
    ratio differs)."""
    fx, fy, cx, cy, rw, rh = (float(v) for v in intrinsics)
    s = width / rw
    return (fx * s, fy * s, 0.5 * width + (cx - 0.5 * rw) * s, 0.5 * height + (cy - 0.5 * rh) * s)


def box_part(lo, hi, color) -> MeshPart:
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    m = trimesh.creation.box(extents=hi - lo)
    return MeshPart(np.asarray(m.vertices) + 0.5 * (lo + hi), np.asarray(m.faces), tuple(color))


def cylinder_part(radius, y0, y1, color, x=0.0, z=0.0, top_ratio=1.0, sections=12) -> MeshPart:
    """A vertical (truncated) cylinder from y0 to y1 centred on (x, z)."""
    m = primitives.truncated_cone(radius, top_ratio, y1 - y0, sections=sections)
    v = np.asarray(m.vertices) @ rot_x(-np.pi / 2).T + [x, 0.5 * (y0 + y1), z]   # z axis -> y axis
    return MeshPart(v, np.asarray(m.faces), tuple(color))


def rects_overlap(c1, h1, yaw1, c2, h2, yaw2, margin: float = 0.0) -> bool:
    """Oriented rectangles in the (x, z) plane (centre, half sizes along local x and z, yaw about
    +Y) overlap, after growing each by ``margin``/2: separating axis test."""
    def axes(yaw):
        r = rot_y(yaw)
        return np.array([r[0, 0], r[2, 0]]), np.array([r[0, 2], r[2, 2]])   # local x, z in (x, z)
    a1, a2 = axes(yaw1), axes(yaw2)
    d = np.asarray(c2, np.float64) - np.asarray(c1, np.float64)
    e1 = np.asarray(h1, np.float64) + margin / 2
    e2 = np.asarray(h2, np.float64) + margin / 2
    for ax in (*a1, *a2):
        r1 = e1[0] * abs(ax @ a1[0]) + e1[1] * abs(ax @ a1[1])
        r2 = e2[0] * abs(ax @ a2[0]) + e2[1] * abs(ax @ a2[1])
        if abs(d @ ax) > r1 + r2:
            return False
    return True


def footprint_extent(half_extents, yaw) -> np.ndarray:
    """World-axis half sizes (x, z) of an oriented footprint."""
    c, s = abs(np.cos(yaw)), abs(np.sin(yaw))
    hx, hz = half_extents
    return np.array([c * hx + s * hz, s * hx + c * hz])


# ---- furniture --------------------------------------------------------------------------------
def _jitter(rng, color, amount=0.08):
    return tuple(float(np.clip(c + rng.uniform(-amount, amount), 0.03, 0.95)) for c in color)


_WOODS = [(0.45, 0.28, 0.15), (0.62, 0.45, 0.28), (0.30, 0.18, 0.10), (0.75, 0.62, 0.45)]
_FABRICS = [(0.55, 0.12, 0.10), (0.15, 0.25, 0.50), (0.35, 0.45, 0.30), (0.60, 0.58, 0.52),
            (0.25, 0.25, 0.28), (0.70, 0.55, 0.20)]
_PAINTS = [(0.85, 0.85, 0.82), (0.20, 0.20, 0.22), (0.60, 0.70, 0.75), (0.80, 0.75, 0.60)]


def _legs(w, d, h, t, color, inset=0.03):
    out = []
    for sx in (-1, 1):
        for sz in (-1, 1):
            x, z = sx * (w / 2 - inset - t / 2), sz * (d / 2 - inset - t / 2)
            out.append(box_part((x - t / 2, 0, z - t / 2), (x + t / 2, h, z + t / 2), color))
    return out


def make_furniture(kind: str, rng: np.random.Generator):
    """(parts, (hx, hz), height) of one piece in its local frame (front towards +Z)."""
    wood = _jitter(rng, _WOODS[rng.integers(len(_WOODS))])
    fabric = _jitter(rng, _FABRICS[rng.integers(len(_FABRICS))])
    paint = _jitter(rng, _PAINTS[rng.integers(len(_PAINTS))], 0.05)
    if kind in ("table", "desk"):
        w, d = (rng.uniform(0.9, 1.6), rng.uniform(0.7, 0.95)) if kind == "table" else \
               (rng.uniform(1.0, 1.4), rng.uniform(0.55, 0.7))
        h, top = rng.uniform(0.70, 0.78), 0.04
        parts = [box_part((-w / 2, h - top, -d / 2), (w / 2, h, d / 2), wood)]
        parts += _legs(w, d, h - top, 0.05, wood)
        if kind == "desk":   # a drawer block on one side
            parts.append(box_part((w / 2 - 0.42, 0.1, -d / 2 + 0.03), (w / 2 - 0.05, h - top, d / 2 - 0.03), paint))
    elif kind == "chair":
        w, d, sh = rng.uniform(0.42, 0.5), rng.uniform(0.42, 0.5), rng.uniform(0.43, 0.47)
        bh = rng.uniform(0.4, 0.5)
        c = wood if rng.uniform() < 0.6 else fabric
        parts = [box_part((-w / 2, sh - 0.05, -d / 2), (w / 2, sh, d / 2), c),
                 box_part((-w / 2, sh, -d / 2), (w / 2, sh + bh, -d / 2 + 0.05), c)]
        parts += _legs(w, d, sh - 0.05, 0.04, c, inset=0.0)
        h = sh + bh
    elif kind == "bed":
        w, d, h = rng.choice([0.95, 1.4, 1.6, 1.8]) + rng.uniform(-0.05, 0.05), rng.uniform(1.95, 2.15), rng.uniform(0.45, 0.6)
        hb = h + rng.uniform(0.35, 0.6)
        sheet = _jitter(rng, (0.85, 0.85, 0.88), 0.1)
        parts = [box_part((-w / 2, 0.0, -d / 2), (w / 2, h - 0.2, d / 2), wood),
                 box_part((-w / 2 + 0.02, h - 0.2, -d / 2 + 0.06), (w / 2 - 0.02, h, d / 2 - 0.02), sheet),
                 box_part((-w / 2, 0.0, -d / 2), (w / 2, hb, -d / 2 + 0.06), wood),
                 box_part((-w / 2 + 0.1, h, -d / 2 + 0.1), (w / 2 - 0.1, h + 0.12, -d / 2 + 0.45), _jitter(rng, (0.9, 0.9, 0.9), 0.05)),
                 box_part((-w / 2 + 0.02, h - 0.22, 0.1), (w / 2 - 0.02, h + 0.03, d / 2 - 0.0), fabric)]
        h = hb
    elif kind == "sofa":
        w, d, sh = rng.uniform(1.6, 2.2), rng.uniform(0.8, 0.95), rng.uniform(0.4, 0.45)
        bh, arm = rng.uniform(0.75, 0.9), 0.18
        parts = [box_part((-w / 2, 0.08, -d / 2), (w / 2, sh - 0.12, d / 2), fabric),
                 box_part((-w / 2 + arm, sh - 0.12, -d / 2 + 0.2), (w / 2 - arm, sh, d / 2), _jitter(rng, fabric, 0.04)),
                 box_part((-w / 2, 0.08, -d / 2), (w / 2, bh, -d / 2 + 0.2), fabric),
                 box_part((-w / 2, 0.08, -d / 2), (-w / 2 + arm, sh + 0.18, d / 2), fabric),
                 box_part((w / 2 - arm, 0.08, -d / 2), (w / 2, sh + 0.18, d / 2), fabric)]
        parts += _legs(w, d, 0.08, 0.05, (0.1, 0.08, 0.06), inset=0.02)
        h = bh
    elif kind == "shelf":
        w, d, h = rng.uniform(0.6, 1.2), rng.uniform(0.3, 0.4), rng.uniform(1.2, 2.0)
        t = 0.025
        c = wood if rng.uniform() < 0.6 else paint
        parts = [box_part((-w / 2, 0, -d / 2), (-w / 2 + t, h, d / 2), c),
                 box_part((w / 2 - t, 0, -d / 2), (w / 2, h, d / 2), c),
                 box_part((-w / 2 + t, 0, -d / 2), (w / 2 - t, h, -d / 2 + t), c)]
        n = int(np.clip(round(h / 0.38), 3, 6))
        for k in range(n + 1):
            y = k * (h - t) / n
            parts.append(box_part((-w / 2 + t, y, -d / 2 + t), (w / 2 - t, y + t, d / 2), c))
            if 0 < k < n and rng.uniform() < 0.7:   # a row of books
                bw = rng.uniform(0.2, w - 2 * t - 0.05)
                x0 = rng.uniform(-w / 2 + t, w / 2 - t - bw)
                bh = min(rng.uniform(0.18, 0.28), (h - t) / n - t - 0.02)
                parts.append(box_part((x0, y + t, -d / 2 + t), (x0 + bw, y + t + bh, d / 2 - 0.04),
                                      _jitter(rng, _FABRICS[rng.integers(len(_FABRICS))])))
    elif kind in ("cabinet", "nightstand"):
        w, d, h = ((rng.uniform(0.6, 1.2), rng.uniform(0.4, 0.6), rng.uniform(0.7, 1.1)) if kind == "cabinet"
                   else (rng.uniform(0.4, 0.55), rng.uniform(0.35, 0.45), rng.uniform(0.45, 0.6)))
        c = paint if rng.uniform() < 0.5 else wood
        parts = [box_part((-w / 2, 0.05, -d / 2), (w / 2, h, d / 2 - 0.02), c),
                 box_part((-w / 2 + 0.02, 0.0, -d / 2 + 0.02), (w / 2 - 0.02, 0.05, d / 2 - 0.05), (0.1, 0.1, 0.1))]
        doors = 2 if w > 0.7 else 1
        dw = (w - 0.04) / doors
        for k in range(doors):
            x0 = -w / 2 + 0.02 + k * dw
            parts.append(box_part((x0 + 0.005, 0.08, d / 2 - 0.02), (x0 + dw - 0.005, h - 0.03, d / 2), _jitter(rng, c, 0.04)))
            hx = x0 + (dw - 0.06 if k == 0 else 0.06)
            parts.append(box_part((hx - 0.01, h * 0.55, d / 2), (hx + 0.01, h * 0.55 + 0.1, d / 2 + 0.025), (0.7, 0.7, 0.7)))
    elif kind == "lamp":
        h = rng.uniform(1.4, 1.7)
        metal = _jitter(rng, (0.2, 0.2, 0.2), 0.1)
        shade = _jitter(rng, (0.9, 0.85, 0.7), 0.06)
        parts = [cylinder_part(0.15, 0.0, 0.03, metal),
                 cylinder_part(0.015, 0.03, h - 0.3, metal, sections=6),
                 cylinder_part(0.22, h - 0.3, h, shade, top_ratio=0.6)]
        w = d = 0.44
    else:
        raise ValueError(f"unknown furniture kind {kind!r}; known: {FURNITURE}")
    # the footprint covers every part (handles and cushions may stick out of the nominal w x d)
    v = np.concatenate([p.vertices for p in parts])
    hx, hz = max(w / 2, np.abs(v[:, 0]).max()), max(d / 2, np.abs(v[:, 2]).max())
    return tuple(parts), (float(hx), float(hz)), float(max(h, v[:, 1].max()))


# ---- rooms ------------------------------------------------------------------------------------
_ROOM_TYPES = {
    "bedroom": (["bed"], ["nightstand", "nightstand", "cabinet", "shelf", "lamp", "desk", "chair"]),
    "living": (["sofa"], ["table", "shelf", "shelf", "cabinet", "lamp", "chair", "chair"]),
    "dining": (["dining"], ["shelf", "cabinet", "cabinet", "lamp", "sofa"]),
    "office": (["desk"], ["chair", "shelf", "shelf", "cabinet", "lamp", "table"]),
}


def _wall_geometry(W, D, H):
    """Per wall: (origin (x, z), along-wall unit, inward normal, length, yaw of a piece backed against it)."""
    return [((0.0, 0.0), np.array([1.0, 0.0]), np.array([0.0, 1.0]), W, 0.0),          # z = 0
            ((W, D), np.array([-1.0, 0.0]), np.array([0.0, -1.0]), W, np.pi),          # z = D
            ((0.0, D), np.array([0.0, -1.0]), np.array([1.0, 0.0]), D, np.pi / 2),      # x = 0
            ((W, 0.0), np.array([0.0, 1.0]), np.array([-1.0, 0.0]), D, -np.pi / 2)]    # x = W


def _wall_box(wall, s0, s1, y0, y1, d0, d1, color) -> MeshPart:
    """A box on wall ``wall`` from along-wall s0..s1, height y0..y1, depth d0..d1 along the outward
    direction (d = 0 is the interior face)."""
    (ox, oz), along, inward, _, _ = wall
    pts = []
    for s in (s0, s1):
        for dd in (d0, d1):
            pts.append(np.array([ox, oz]) + s * along - dd * inward)
    pts = np.array(pts)
    lo, hi = pts.min(0), pts.max(0)
    return box_part((lo[0], y0, lo[1]), (hi[0], y1, hi[1]), color)


def _build_room(rng, W, D, H):
    walls = _wall_geometry(W, D, H)
    wall_color = _jitter(rng, [(0.85, 0.83, 0.78), (0.80, 0.82, 0.85), (0.88, 0.80, 0.68),
                               (0.70, 0.78, 0.70)][rng.integers(4)], 0.04)
    floor_color = _jitter(rng, [(0.50, 0.35, 0.22), (0.60, 0.58, 0.55), (0.35, 0.30, 0.28),
                                (0.70, 0.60, 0.45)][rng.integers(4)], 0.05)
    parts = [box_part((-WALL_T, -WALL_T, -WALL_T), (W + WALL_T, 0.0, D + WALL_T), floor_color),
             box_part((-WALL_T, H, -WALL_T), (W + WALL_T, H + WALL_T, D + WALL_T), _jitter(rng, (0.92, 0.92, 0.9), 0.03))]
    door_wall = int(rng.integers(4))
    n_windows = int(rng.integers(0, 3))
    window_walls = [int(w) for w in rng.permutation([w for w in range(4) if w != door_wall])[:n_windows]]
    openings = []   # (wall, s0, s1, y0, y1, kind)
    for w in range(4):
        L = walls[w][3]
        kind = "door" if w == door_wall else ("window" if w in window_walls else None)
        if kind is None:
            parts.append(_wall_box(walls[w], 0.0, L, 0.0, H, 0.0, WALL_T, wall_color))
            continue
        ow = rng.uniform(0.8, 0.9) if kind == "door" else min(rng.uniform(0.8, 1.6), L - 1.0)
        s0 = rng.uniform(0.3, L - ow - 0.3)
        s1 = s0 + ow
        y0, y1 = (0.0, rng.uniform(2.0, 2.1)) if kind == "door" else (rng.uniform(0.8, 1.0), min(rng.uniform(2.0, 2.2), H - 0.2))
        parts.append(_wall_box(walls[w], 0.0, s0, 0.0, H, 0.0, WALL_T, wall_color))
        parts.append(_wall_box(walls[w], s1, L, 0.0, H, 0.0, WALL_T, wall_color))
        parts.append(_wall_box(walls[w], s0, s1, y1, H, 0.0, WALL_T, wall_color))
        if y0 > 0:
            parts.append(_wall_box(walls[w], s0, s1, 0.0, y0, 0.0, WALL_T, wall_color))
        panel = _jitter(rng, (0.55, 0.38, 0.22), 0.08) if kind == "door" else _jitter(rng, (0.75, 0.85, 0.95), 0.04)
        parts.append(_wall_box(walls[w], s0 - 0.05, s1 + 0.05, y0 - (0.05 if y0 > 0 else 0.0), y1 + 0.05,
                               WALL_T + 0.04, WALL_T + 0.08, panel))
        openings.append((w, s0, s1, y0, y1, kind))
    return tuple(parts), walls, openings


def _place(rng, walls, W, D, placed, obstacles, hx, hz, height, against_wall, tries=40):
    """A collision-free (centre (x, z), yaw) for a footprint, or None."""
    for _ in range(tries):
        if against_wall:
            w = int(rng.integers(4))
            (ox, oz), along, inward, L, yaw = walls[w]
            if L < 2 * hx + 0.1:
                continue
            s = rng.uniform(hx + 0.02, L - hx - 0.02)
            c = np.array([ox, oz]) + s * along + (hz + 0.02) * inward
        else:
            yaw = float(rng.choice([0.0, np.pi / 2]) + rng.uniform(-0.25, 0.25))
            c = np.array([rng.uniform(0.2, W - 0.2), rng.uniform(0.2, D - 0.2)])
        ext = footprint_extent((hx, hz), yaw)
        if np.any(c - ext < 0.01) or c[0] + ext[0] > W - 0.01 or c[1] + ext[1] > D - 0.01:
            continue
        if any(rects_overlap(c, (hx, hz), yaw, pc, ph, py, margin=0.05) for pc, ph, py in placed):
            continue
        if any(rects_overlap(c, (hx, hz), yaw, oc, oh, oy) for oc, oh, oy, min_h in obstacles if height > min_h):
            continue
        return c, float(yaw)
    return None


def _opening_obstacles(walls, openings):
    """Floor rectangles kept free: 1 m in front of the door (for anything), 0.3 m in front of a
    window (for pieces taller than its sill)."""
    out = []
    for w, s0, s1, y0, y1, kind in openings:
        (ox, oz), along, inward, L, yaw = walls[w]
        depth = 1.0 if kind == "door" else 0.3
        c = np.array([ox, oz]) + 0.5 * (s0 + s1) * along + 0.5 * depth * inward
        out.append((c, (0.5 * (s1 - s0) + 0.05, 0.5 * depth), yaw, -1.0 if kind == "door" else y0 - 0.05))
    return out


def procedural_scene(scene_id: int, num_cameras: int = 3) -> BaseScene:
    """Base scene number ``scene_id`` (deterministic: the id alone seeds everything)."""
    if int(scene_id) < 0:
        raise ValueError(f"scene_id must be >= 0, got {scene_id}")
    rng = np.random.default_rng([int(scene_id), 0x1D00])
    W, D, H = rng.uniform(3.0, 7.0), rng.uniform(3.0, 6.0), rng.uniform(2.4, 3.0)
    room, walls, openings = _build_room(rng, W, D, H)
    room_type = list(_ROOM_TYPES)[rng.integers(len(_ROOM_TYPES))]
    main, extra = _ROOM_TYPES[room_type]
    n_extra = int(rng.integers(4, len(extra) + 1))
    kinds = list(main) + [extra[i] for i in sorted(rng.permutation(len(extra))[:n_extra])]
    obstacles = _opening_obstacles(walls, openings)
    placed, objects = [], []
    for kind in kinds:
        if kind == "dining":   # a free-standing table with chairs along its long sides
            parts, (hx, hz), h = make_furniture("table", rng)
            spot = _place(rng, walls, W, D, placed, obstacles, hx, hz, h, against_wall=False, tries=80)
            if spot is None:
                continue
            (cx, cz), yaw = spot
            placed.append((np.array([cx, cz]), (hx, hz), yaw))
            objects.append(SceneObject(f"table_{len(objects)}", parts, np.array([cx, 0.0, cz]), yaw, (hx, hz), h))
            n_chairs = 2 if hx < 0.6 else 4
            for k in range(n_chairs):
                side = 1 if k % 2 == 0 else -1
                offset = 0.0 if n_chairs == 2 else (-0.5 if k < 2 else 0.5) * hx
                cparts, (chx, chz), ch = make_furniture("chair", rng) if k == 0 else (cparts, (chx, chz), ch)
                local = np.array([offset, side * (hz + chz + 0.12)])            # (x, z) in the table frame
                r = rot_y(yaw)
                c = np.array([cx, cz]) + np.array([r[0, 0] * local[0] + r[0, 2] * local[1],
                                                   r[2, 0] * local[0] + r[2, 2] * local[1]])
                cyaw = yaw + (np.pi if side > 0 else 0.0)                       # facing the table
                ext = footprint_extent((chx, chz), cyaw)
                if np.any(c - ext < 0.01) or c[0] + ext[0] > W - 0.01 or c[1] + ext[1] > D - 0.01:
                    continue
                if any(rects_overlap(c, (chx, chz), cyaw, pc, ph, py, margin=0.05) for pc, ph, py in placed):
                    continue
                if any(rects_overlap(c, (chx, chz), cyaw, oc, oh, oy) for oc, oh, oy, _ in obstacles):
                    continue
                placed.append((c, (chx, chz), cyaw))
                objects.append(SceneObject(f"chair_{len(objects)}", cparts, np.array([c[0], 0.0, c[1]]),
                                           float(cyaw), (chx, chz), ch))
            continue
        parts, (hx, hz), h = make_furniture(kind, rng)
        free = kind in ("table", "chair") and rng.uniform() < 0.7
        spot = _place(rng, walls, W, D, placed, obstacles, hx, hz, h, against_wall=not free)
        if spot is None:
            continue
        c, yaw = spot
        placed.append((c, (hx, hz), yaw))
        objects.append(SceneObject(f"{kind}_{len(objects)}", parts, np.array([c[0], 0.0, c[1]]), yaw, (hx, hz), h))

    bounds = np.array([[0.0, 0.0, 0.0], [W, H, D]])
    lights, ambient = _lights(rng, walls, openings)
    cameras = _cameras(rng, W, D, placed, objects, num_cameras)
    return BaseScene(name=f"procedural_{scene_id}", objects=tuple(objects), room=room, bounds=bounds,
                     lights=lights, ambient=ambient, cameras=cameras,
                     meta={"room_type": room_type, "size": (W, D, H), "openings": openings})


def _lights(rng, walls, openings):
    tilt = rng.uniform(0.15, 0.45)
    a = rng.uniform(0, 2 * np.pi)
    key = np.array([tilt * np.cos(a), -1.0, tilt * np.sin(a)])
    windows = [o for o in openings if o[5] == "window"]
    w = windows[0][0] if windows else int(rng.integers(4))
    inward = walls[w][2]
    side = np.array([inward[0], -rng.uniform(0.3, 0.7), inward[1]])
    fill = -side + np.array([0.0, -1.2 * abs(side[1]) - 0.3, 0.0])
    warm = tuple(np.clip([1.0, rng.uniform(0.9, 1.0), rng.uniform(0.75, 0.95)], 0, 1))
    lights = (Light(tuple(key / np.linalg.norm(key)), intensity=float(rng.uniform(2.0, 2.8)), color=warm),
              Light(tuple(side / np.linalg.norm(side)), intensity=float(rng.uniform(1.0, 1.8))),
              Light(tuple(fill / np.linalg.norm(fill)), intensity=float(rng.uniform(0.3, 0.6))))
    return lights, float(rng.uniform(0.2, 0.35))


def _cameras(rng, W, D, placed, objects, n):
    """Zhang et al. 2017 style views: eye 1.4–1.7 m high, inside the room and off every
    footprint, facing a piece of furniture 1.5–5 m away, pitched down 10–25°, no roll."""
    poses = []
    order = [i for i in np.argsort([-o.half_extents[0] * o.half_extents[1] * o.height for o in objects])]
    for k in range(n):
        pose = None
        for _ in range(200):
            if objects:
                # favour big pieces but see everything across the cameras
                i = order[k % len(order)] if rng.uniform() < 0.6 else int(rng.integers(len(objects)))
                target = objects[i].translation[[0, 2]]
            else:
                target = np.array([W / 2, D / 2])
            eye = np.array([rng.uniform(0.5, W - 0.5), rng.uniform(0.5, D - 0.5)])
            dist = np.linalg.norm(target - eye)
            if not 1.5 <= dist <= 5.0 and _ < 150:
                continue
            if any(rects_overlap(eye, (0.15, 0.15), 0.0, pc, ph, py, margin=0.2) for pc, ph, py in placed) and _ < 190:
                continue
            d = target - eye
            yaw = float(np.arctan2(-d[0], -d[1]) + rng.uniform(-0.15, 0.15))
            pitch = -float(np.radians(rng.uniform(10.0, 25.0)))
            pose = camera_pose((eye[0], rng.uniform(1.4, 1.7), eye[1]), yaw, pitch, 0.0)
            break
        if pose is None:
            pose = camera_pose((W / 2, 1.55, D / 2), float(rng.uniform(-np.pi, np.pi)), -np.radians(15.0))
        poses.append(pose)
    return tuple(poses)
