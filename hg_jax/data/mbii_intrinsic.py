"""MIT-Berkeley Intrinsic Images as real intrinsic-decomposition data (paper §5.4), numpy only.

Per object (SIRFS layout, see data/mbii.py): input ``diffuse.png`` (RGB, the photo without
specularities), albedo ``reflectance.png`` (RGB), shading ``shading.png`` (gray), ``mask.png``.

Scales. MBII's three images are each stored on their own scale: diffuse ≈ c · reflectance ·
shading with c between about 0.5 and 1.2 depending on the object. The samples follow the synthetic
convention (generators/rendered.py: image ≈ albedo × shading, albedo in [0, 1]):

- ``image``   = diffuse / q, q its 99th percentile on the object (``imageops.normalize_intensity``,
  the function the synthetic samplers use);
- ``target`` albedo = reflectance as stored (in [0, 1]);
- ``target`` shading = k · shading.png, with k the least-squares scalar over the valid pixels that
  makes luminance(albedo) · shading match luminance(image).

Valid pixels: inside ``mask.png`` with shading > 0 and albedo luminance > 1e-4 (where
shading = image / albedo is defined), and at the network's size only pixels fully covered by
valid ones (``imageops.resize_mask``). The object is cropped square with a 5% margin and
area-resized, as for the normals experiment.

Split (Barron & Malik): ``TRAIN_OBJECTS`` give β's validation loss, ``TEST_OBJECTS`` the reported
numbers only.
"""
from __future__ import annotations

import os

import numpy as np

from hg_jax.data import imageops
from hg_jax.data.mbii import HOW_TO_GET, TEST_OBJECTS, TRAIN_OBJECTS, default_root, object_folder
from hg_jax.errors import DataError, DataNotFound

__all__ = ["TRAIN_OBJECTS", "TEST_OBJECTS", "default_root", "load_intrinsic_object",
           "load_intrinsic_objects", "load_intrinsic_split"]


def _read(folder: str, file: str) -> np.ndarray:
    path = os.path.join(folder, file)
    if not os.path.isfile(path):
        raise DataNotFound(f"MBII image not found: {path}. {HOW_TO_GET}")
    return imageops.read_image(path)


def _rgb(a: np.ndarray, path: str) -> np.ndarray:
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=-1)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise DataError(f"{path}: shape {a.shape}, expected an RGB or gray image")
    return a


def load_intrinsic_object(root: str, name: str, *, size: int = 64) -> dict:
    """One object, float32: ``image`` (S,S,3), ``target`` (S,S,4) = albedo RGB + shading, 0 outside
    the mask, ``mask`` (S,S,1) in {0, 1}."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise DataError(f"MBII intrinsic size = {size!r} is invalid: allowed an integer >= 1")
    folder = object_folder(root, name)
    diffuse = _rgb(_read(folder, "diffuse.png"), os.path.join(folder, "diffuse.png"))
    albedo = _rgb(_read(folder, "reflectance.png"), os.path.join(folder, "reflectance.png"))
    shading = imageops.to_gray(_read(folder, "shading.png"))
    mask = imageops.to_gray(_read(folder, "mask.png")) > 0.5
    for file, a in (("reflectance.png", albedo), ("shading.png", shading), ("mask.png", mask)):
        if a.shape[:2] != diffuse.shape[:2]:
            raise DataError(f"{os.path.join(folder, file)}: size {a.shape[:2]} != diffuse.png's "
                             f"{diffuse.shape[:2]}")
    valid = mask & (shading > 0) & (imageops.to_gray(albedo) > 1e-4)
    if not valid.any():
        raise DataError(f"MBII object {name!r}: no pixel with mask, shading > 0 and albedo > 0")

    box = imageops.square_crop_box(mask)
    w = valid.astype(np.float64)
    image = imageops.resize_area(imageops.crop_pad(diffuse * w[..., None], box), int(size))
    alb = imageops.resize_area(imageops.crop_pad(albedo * w[..., None], box), int(size))
    sh = imageops.resize_area(imageops.crop_pad(shading * w, box), int(size))
    ok = imageops.resize_mask(imageops.crop_pad(valid, box), int(size))
    if not ok.any():
        raise DataError(f"MBII object {name!r}: no fully valid pixel at size {size}; use a larger size")
    image = imageops.normalize_intensity(image, ok)
    lum_a, lum_i = imageops.to_gray(alb)[ok], imageops.to_gray(image)[ok]
    base = lum_a * sh[ok]
    k = float(np.sum(base * lum_i) / max(np.sum(base * base), 1e-12))
    m = ok[..., None].astype(np.float64)
    target = np.concatenate([alb, k * sh[..., None]], axis=-1) * m
    return {"image": (image * m).astype(np.float32), "target": target.astype(np.float32),
            "mask": m.astype(np.float32)}


def load_intrinsic_objects(root: str, names, size: int = 64) -> dict:
    """Stacked float32 ``image`` (N,S,S,3), ``target`` (N,S,S,4), ``mask`` (N,S,S,1), and ``names``."""
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise DataError("no MBII objects requested")
    objs = [load_intrinsic_object(root, n, size=size) for n in names]
    out = {k: np.stack([o[k] for o in objs]) for k in ("image", "target", "mask")}
    out["names"] = names
    return out


def load_intrinsic_split(root: str, split: str, size: int = 64) -> dict:
    """Barron's split: ``"train"`` (β's validation loss) or ``"test"`` (reported only)."""
    splits = {"train": TRAIN_OBJECTS, "test": TEST_OBJECTS}
    if split not in splits:
        raise DataError(f"MBII intrinsic split {split!r}: allowed {sorted(splits)}")
    return load_intrinsic_objects(root, splits[split], size=size)
