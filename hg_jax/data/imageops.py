"""Image operations shared by every real-data loader and by the synthetic samplers (numpy + PIL).

Real photos and renders must reach the network on the same scale and framing, so both go through
these functions: crop to the object, pad to a square, area-resize, and ``normalize_intensity``.
"""
from __future__ import annotations

import os

import numpy as np
from PIL import Image

LUMA = np.array([0.2126, 0.7152, 0.0722])   # Rec. 709


def read_image(path: str) -> np.ndarray:
    """PNG/JPEG/PPM/PGM of 8 or 16 bits → float64 in [0, 1], (H, W) or (H, W, 3)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"image not found: {path}")
    im = Image.open(path)
    a = np.asarray(im)
    if im.mode in ("I;16", "I;16B", "I;16L", "I") or a.dtype == np.uint16:
        return a.astype(np.float64) / 65535.0
    if a.dtype == bool:
        return a.astype(np.float64)
    if im.mode in ("RGBA", "LA"):
        a = a[..., :-1]
    return a.astype(np.float64) / 255.0


def to_gray(a: np.ndarray) -> np.ndarray:
    return a @ LUMA if a.ndim == 3 else a


def square_crop_box(mask: np.ndarray, margin: float = 0.05) -> tuple[int, int, int]:
    """(top, left, side) of a square around the mask's bounding box, with a relative margin."""
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        raise ValueError("mask is empty: nothing to crop")
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    side = int(np.ceil(max(bottom - top, right - left) * (1 + 2 * margin)))
    cy, cx = (top + bottom) / 2, (left + right) / 2
    return int(np.floor(cy - side / 2)), int(np.floor(cx - side / 2)), side


def crop_pad(a: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    """Crop ``a`` to the square box, padding with zeros where the box leaves the image."""
    top, left, side = box
    out = np.zeros((side, side) + a.shape[2:], a.dtype)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + side, a.shape[0]), min(left + side, a.shape[1])
    out[y0 - top:y1 - top, x0 - left:x1 - left] = a[y0:y1, x0:x1]
    return out


def resize_area(a: np.ndarray, size: int) -> np.ndarray:
    """Area-average (box filter) resize of (H, W) or (H, W, C) float arrays to (size, size)."""
    if a.ndim == 2:
        return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize((size, size), Image.BOX),
                          np.float64)
    return np.stack([resize_area(a[..., c], size) for c in range(a.shape[-1])], axis=-1)


def resize_normals(n: np.ndarray, valid: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Area-average unit normals over valid pixels, renormalise; a pixel is valid if fully covered."""
    w = valid.astype(np.float64)
    cover = resize_area(w, size)
    summed = resize_area(n * w[..., None], size)
    norm = np.linalg.norm(summed, axis=-1, keepdims=True)
    ok = (cover > 0.999) & (norm[..., 0] > 1e-6)
    return np.where(ok[..., None], summed / np.maximum(norm, 1e-12), 0.0), ok


def normalize_intensity(image: np.ndarray, mask: np.ndarray, q: float = 99.0) -> np.ndarray:
    """Divide by the q-th percentile of the image inside the mask (robust max), so renders and
    photos share a scale whatever the light's or camera's absolute intensity."""
    m = np.broadcast_to(mask.astype(bool).reshape(mask.shape[:2]), image.shape[:2])
    vals = image[m]
    if vals.size == 0:
        return image
    scale = np.percentile(vals, q)
    return image / scale if scale > 1e-8 else image
