"""Scene description: what a grammar produces and a renderer consumes (host side, no jax).

Conventions (shared by every generator and renderer):
- World units are arbitrary but consistent; meshes are triangle soups in world coordinates.
- ``Camera.pose`` is camera-to-world, OpenGL convention: the camera looks down its -Z axis, +Y up.
- Camera-space normals in rendered maps use the same OpenGL camera frame: +X right, +Y up,
  +Z towards the viewer; a surface facing the camera has n_z > 0.
- Depth maps hold the distance along the camera's viewing axis (positive), 0 where empty.
- ``Light.direction`` is the direction the light travels (from the light into the scene), world frame.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class MeshPart:
    vertices: np.ndarray                 # (N, 3) float
    faces: np.ndarray                    # (F, 3) int
    color: tuple = (0.8, 0.8, 0.8)       # base colour (albedo), linear RGB in [0, 1]
    uv: Optional[np.ndarray] = None      # (N, 2) texture coordinates, with ``texture``
    texture: Optional[np.ndarray] = None  # (h, w, 3) uint8 albedo texture, sRGB-free (linear)
    smooth: bool = False                 # interpolate vertex normals for shading
    vertex_colors: Optional[np.ndarray] = None  # (N, 3) linear albedo per vertex, interpolated over
    #                                      each triangle; replaces ``color``, not with ``texture``

    def __post_init__(self):
        if self.vertex_colors is not None:
            if self.texture is not None:
                raise ValueError("MeshPart: give vertex_colors or texture, not both")
            if np.shape(self.vertex_colors) != (len(self.vertices), 3):
                raise ValueError(f"MeshPart.vertex_colors must be ({len(self.vertices)}, 3), got "
                                 f"{np.shape(self.vertex_colors)}")


@dataclasses.dataclass(frozen=True)
class Light:
    direction: tuple                     # (3,) direction of travel, world frame
    intensity: float = 3.0
    color: tuple = (1.0, 1.0, 1.0)


@dataclasses.dataclass(frozen=True, eq=False)
class Camera:
    pose: np.ndarray                     # (4, 4) camera-to-world
    yfov: float = 0.6                    # radians; ignored when ``intrinsics`` is set
    intrinsics: Optional[tuple] = None   # (fx, fy, cx, cy) in pixels, overrides yfov
    znear: float = 0.05
    zfar: float = 100.0


@dataclasses.dataclass(frozen=True, eq=False)
class Scene:
    meshes: tuple                        # tuple[MeshPart, ...]
    camera: Camera
    lights: tuple = ()                   # tuple[Light, ...]
    ambient: float = 0.0                 # ambient light level in [0, 1]
    width: int = 64
    height: int = 64
    meta: dict = dataclasses.field(default_factory=dict)  # generator's counters, e.g. CSG fallbacks


def look_at(eye, target, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """Camera-to-world pose (OpenGL convention) for a camera at ``eye`` looking at ``target``."""
    eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
    z = eye - target
    z /= np.linalg.norm(z)
    x = np.cross(up, z)
    if np.linalg.norm(x) < 1e-9:  # looking along ``up``: pick any perpendicular axis
        x = np.cross((1.0, 0.0, 0.0) if abs(z[0]) < 0.9 else (0.0, 0.0, 1.0), z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = x, y, z, eye
    return pose
