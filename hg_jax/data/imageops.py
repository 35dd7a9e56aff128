"""Image operations shared by every real-data loader and by the synthetic samplers (numpy + PIL).

Real photos and renders must reach the network on the same scale and framing, so both go through
these functions: crop to the object, pad to a square, area-resize, and ``normalize_intensity``.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image

from hg_jax.colour import luminance
from hg_jax.errors import DataError, DataNotFound

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_header(path: str) -> tuple[int, int] | None:
    """(bit depth, colour type) from a PNG's IHDR, or None for other formats."""
    with open(path, "rb") as f:
        head = f.read(26)
    if head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _read_png16_colour(path: str) -> np.ndarray | None:
    """16-bit colour PNGs at full precision with pypng; None when pypng is not installed.

    Pillow decodes 16-bit RGB(A) PNGs to 8-bit RGB by keeping the high byte only (e.g. MBII's
    diffuse.png: 103 distinct levels instead of thousands), so those files go through pypng.
    """
    try:
        import png
    except ImportError:
        warnings.warn(f"{path}: 16-bit colour PNG read at 8-bit precision (Pillow cannot do more); "
                      "`pip install pypng` to read it exactly", stacklevel=3)
        return None
    with open(path, "rb") as f:
        width, height, rows, info = png.Reader(file=f).asDirect()
        a = np.vstack([np.asarray(r, np.uint16) for r in rows]).reshape(height, width, info["planes"])
    return a.astype(np.float64) / float(2 ** info["bitdepth"] - 1)


def read_image(path: str) -> np.ndarray:
    """PNG/JPEG/PPM/PGM of 1, 8 or 16 bits -> float64 in [0, 1], (H, W) or (H, W, 3); alpha dropped."""
    if not os.path.isfile(path):
        raise DataNotFound(f"image not found: {path}")
    header = _png_header(path)
    if header is not None and header[0] == 16 and header[1] in (2, 6):   # RGB / RGBA, 16 bit
        a = _read_png16_colour(path)
        if a is not None:
            return a[..., :3]
    with Image.open(path) as im:
        mode = im.mode
        if mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
            im = im.convert("RGBA" if mode in ("P", "PA") else "RGB")
        a = np.asarray(im)
    if a.dtype == bool:                                   # mode "1"
        return a.astype(np.float64)
    if mode.startswith("I;16") or a.dtype == np.uint16:
        return a.astype(np.float64) / 65535.0
    if mode == "I":                                      # 16-bit gray as int32 in older Pillows
        if a.min() < 0 or a.max() > 65535:
            raise DataError(f"{path}: 32-bit integer image, expected 8 or 16 bits per channel")
        return a.astype(np.float64) / 65535.0
    if mode == "F":
        raise DataError(f"{path}: floating-point image, expected 8 or 16 bits per channel")
    if a.ndim == 3 and a.shape[-1] in (2, 4):            # LA / RGBA
        a = a[..., :-1]
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    return a.astype(np.float64) / 255.0


def to_gray(a: np.ndarray) -> np.ndarray:
    """(H, W, 3) linear RGB -> (H, W) Rec. 709 luminance; (H, W) passes through."""
    return luminance(a) if a.ndim == 3 else a


def square_crop_box(mask: np.ndarray, margin: float = 0.05) -> tuple[int, int, int]:
    """(top, left, side) of a square centred on the mask's bounding box, ``margin`` of its longer
    side added on every edge; the box may leave the image (``crop_pad`` pads with zeros)."""
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        raise DataError("mask is empty: nothing to crop")
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


def resize_mask(mask: np.ndarray, size: int, threshold: float = 0.999) -> np.ndarray:
    """A boolean mask at (size, size): a pixel is in when at least ``threshold`` of its area is.
    The default keeps only fully covered pixels, so no target or image pixel mixes in background."""
    return resize_area(mask.astype(np.float64), size) >= threshold


def resize_normals(n: np.ndarray, valid: np.ndarray, size: int,
                   threshold: float = 0.999) -> tuple[np.ndarray, np.ndarray]:
    """Area-average unit normals over the valid pixels, re-normalise; -> (normals, mask), with
    zero normals outside the mask (see ``resize_mask`` for ``threshold``)."""
    w = valid.astype(np.float64)
    summed = resize_area(n * w[..., None], size)
    norm = np.linalg.norm(summed, axis=-1, keepdims=True)
    ok = resize_mask(valid, size, threshold) & (norm[..., 0] > 1e-6)
    return np.where(ok[..., None], summed / np.maximum(norm, 1e-12), 0.0), ok


def normalize_intensity(image: np.ndarray, mask: np.ndarray, q: float = 99.0) -> np.ndarray:
    """Divide by the q-th percentile of the image inside the mask (a robust maximum).

    Renders and photos then share a scale whatever the light's or the camera's absolute intensity:
    the real loaders and the synthetic samplers (RenderedSampler(normalize=True)) both call this.
    About (100 - q)% of the object's pixels end slightly above 1 (nothing is clipped); an empty
    mask or an all-black object leaves the image unchanged. ``mask`` is (H, W) or (H, W, 1).
    """
    m = np.broadcast_to(np.asarray(mask).astype(bool).reshape(mask.shape[:2]), image.shape[:2])
    vals = image[m]
    if vals.size == 0:
        return image
    scale = np.percentile(vals, q)
    return image / scale if scale > 1e-8 else image


def normalize_intrinsic(sample: dict, q: float = 99.0) -> dict:
    """Divide image and shading by the image's q-th percentile on the mask (the robust maximum of
    ``imageops.normalize_intensity``), so image = albedo × shading still holds."""
    m = sample["mask"][..., 0] > 0.5
    vals = sample["image"][m]
    if vals.size == 0:
        return sample
    scale = float(np.percentile(vals, q))
    if scale <= 1e-8:
        return sample
    target = sample["target"].copy()
    target[..., 3:] /= scale
    return {**sample, "image": (sample["image"] / scale).astype(np.float32), "target": target.astype(np.float32)}
