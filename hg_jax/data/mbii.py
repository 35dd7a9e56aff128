"""MIT-Berkeley Intrinsic Images in the SIRFS 1.5 layout (Barron & Malik): one folder per object.

Ground-truth normals come from ``Z.mat`` (variable ``depth``: a height field, NaN outside the
object, larger = nearer the viewer) by central differences:

    n ∝ (−∂Z/∂x, +∂Z/∂row, 1)

in the renderer's camera frame (+X right, +Y up, +Z towards the viewer): x follows image columns,
and since image rows grow downwards, ∂Z/∂y_up = −∂Z/∂row. tests/test_mbii.py checks this against
the data itself: n_z > 0 inside the mask, and the Lambertian shading rendered from these normals
with the object's spherical-harmonic light (``L.mat``, SIRFS's log-shading convention) correlates
with ``shading.png`` — much better than with either axis flipped.

Pixels are valid where ``mask.png`` and ``depth_valid.png`` hold and all four neighbours have
depth (the object is eroded by one pixel so no difference straddles the silhouette). Images are
cropped to the object, padded to a square, area-resized to ``size``, and normalised with
``imageops.normalize_intensity`` — the same function the synthetic samplers apply.
"""
from __future__ import annotations

import os

import numpy as np
import scipy.io

from hg_jax.data import imageops

TRAIN_OBJECTS = ("apple", "box", "cup1", "dinosaur", "frog1", "panther", "paper1", "phone", "squirrel",
                 "teabag2")
TEST_OBJECTS = ("cup2", "deer", "frog2", "paper2", "pear", "potato", "raccoon", "sun", "teabag1", "turtle")
HOW_TO_GET = ("MBII in the SIRFS layout ships with SIRFS 1.5 (Barron & Malik); this project expects it at "
              "../shared/data/mbii, $HG_JAX_DATA/mbii or --config.data.root")


def default_root() -> str:
    if os.environ.get("HG_JAX_DATA"):
        return os.path.join(os.environ["HG_JAX_DATA"], "mbii")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.normpath(os.path.join(repo, "..", "shared", "data", "mbii"))


def list_objects(root: str) -> list[str]:
    if not os.path.isdir(root):
        raise FileNotFoundError(f"MBII folder not found: {root}. {HOW_TO_GET}")
    return sorted(d for d in os.listdir(root) if os.path.isfile(os.path.join(root, d, "Z.mat")))


def read_depth(path: str) -> np.ndarray:
    if not os.path.exists(path):
        raise FileNotFoundError(f"MBII depth not found: {path}. {HOW_TO_GET}")
    try:
        return np.asarray(scipy.io.loadmat(path)["depth"], np.float64)
    except (KeyError, ValueError, OSError, scipy.io.matlab.MatReadError) as e:
        raise ValueError(f"{path}: not a SIRFS Z.mat with variable 'depth' ({e})") from None


def normals_from_height(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) unit normals in the camera frame and their validity, by central differences."""
    dz_dcol = 0.5 * (np.roll(z, -1, axis=1) - np.roll(z, 1, axis=1))
    dz_drow = 0.5 * (np.roll(z, -1, axis=0) - np.roll(z, 1, axis=0))
    n = np.stack([-dz_dcol, dz_drow, np.ones_like(z)], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    valid = np.all(np.isfinite(n), axis=-1)
    valid[[0, -1], :] = False
    valid[:, [0, -1]] = False
    return np.where(valid[..., None], n, 0.0), valid


def load_object_full(root: str, name: str, input: str = "shading.png") -> dict:
    """Full-resolution arrays of one object: image (H,W) or (H,W,3), normals, valid mask."""
    folder = os.path.join(root, name)
    if not os.path.isdir(folder):
        available = list_objects(root) if os.path.isdir(root) else []
        raise ValueError(f"MBII object {name!r} not in {root}; available: {available}")
    z = read_depth(os.path.join(folder, "Z.mat"))
    normals, ok = normals_from_height(z)
    mask = imageops.read_image(os.path.join(folder, "mask.png")) > 0.5
    valid_path = os.path.join(folder, "depth_valid.png")
    if os.path.exists(valid_path):
        mask &= imageops.read_image(valid_path) > 0.5
    image = imageops.read_image(os.path.join(folder, input))
    if image.shape[:2] != z.shape:
        raise ValueError(f"{os.path.join(folder, input)}: size {image.shape[:2]} != Z.mat {z.shape}")
    return {"image": image, "normals": normals, "valid": mask & ok, "object_mask": mask}


def load_object(root: str, name: str, *, input: str = "shading.png", size: int = 64) -> dict:
    """One object at the network's size: image (S,S,1), target normals (S,S,3), mask (S,S,1)."""
    full = load_object_full(root, name, input)
    box = imageops.square_crop_box(full["object_mask"])
    gray = imageops.to_gray(full["image"]) * full["object_mask"]
    image = imageops.resize_area(imageops.crop_pad(gray, box), size)
    normals, ok = imageops.resize_normals(imageops.crop_pad(full["normals"], box),
                                          imageops.crop_pad(full["valid"], box), size)
    image = imageops.normalize_intensity(image, ok)
    return {"image": image[..., None].astype(np.float32), "target": normals.astype(np.float32),
            "mask": ok[..., None].astype(np.float32)}


def load_objects(root: str, names, *, input: str = "shading.png", size: int = 64) -> dict:
    """Stacked (N, S, S, C) image/target/mask for several objects, plus their ``names``."""
    names = list(names)
    if not names:
        raise ValueError("no MBII objects requested")
    objs = [load_object(root, n, input=input, size=size) for n in names]
    out = {k: np.stack([o[k] for o in objs]) for k in ("image", "target", "mask")}
    out["names"] = names
    return out


# ---- the SH check of the normal convention ----------------------------------------------------

_C = (0.429043, 0.511664, 0.743125, 0.886227, 0.247708)   # Ramamoorthi & Hanrahan (2001), Eq. 12


def sh_shading(normals: np.ndarray, light: np.ndarray) -> np.ndarray:
    """Second-order SH irradiance nᵀMn (Ramamoorthi & Hanrahan's quadratic form); ``light`` holds
    the 9 coefficients in the order L00, L1-1, L10, L11, L2-2, L2-1, L20, L21, L22."""
    c1, c2, c3, c4, c5 = _C
    L = np.asarray(light, np.float64).ravel()
    m = np.array([
        [c1 * L[8], c1 * L[4], c1 * L[7], c2 * L[3]],
        [c1 * L[4], -c1 * L[8], c1 * L[5], c2 * L[1]],
        [c1 * L[7], c1 * L[5], c3 * L[6], c2 * L[2]],
        [c2 * L[3], c2 * L[1], c2 * L[2], c4 * L[0] - c5 * L[6]],
    ])
    n4 = np.concatenate([normals, np.ones(normals.shape[:-1] + (1,))], axis=-1)
    return np.einsum("...i,ij,...j->...", n4, m, n4)


def read_gray_light(root: str, name: str) -> np.ndarray:
    """The 9 SH coefficients SIRFS fitted to the object's grayscale shading (``gray_lights.shading``)."""
    data = scipy.io.loadmat(os.path.join(root, name, "L.mat"))
    return np.asarray(data["gray_lights"]["shading"][0, 0], np.float64).ravel()
