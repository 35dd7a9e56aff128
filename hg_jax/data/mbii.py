"""MIT-Berkeley Intrinsic Images in the SIRFS 1.5 layout (Barron & Malik): one folder per object.

Normal convention. ``Z.mat`` (variable ``depth``, NaN outside the object) is a height field in
pixel units, larger = nearer the viewer. Normals are taken by central differences,

    n ∝ (−∂Z/∂col, +∂Z/∂row, 1),

in the renderer's camera frame (+X right, +Y up, +Z towards the viewer): x follows image columns,
and since rows grow downwards, ∂Z/∂y_up = −∂Z/∂row. So n_z > 0 always; the content of the check is
the sign of the depth and the x/y axes, which tests/test_mbii.py verifies on the data: normals at
the left/right/top silhouette of convex objects point left/right/up, and the Lambertian shading
rendered from these normals with each object's spherical-harmonic light (``L.mat``) correlates
with ``shading.png`` (median r 0.97 over the 20 objects) far better than with x or y flipped.

SIRFS's SH convention (Barron & Malik, TPAMI 2015; Ramamoorthi & Hanrahan 2001, Eq. 12): the light
is 9 coefficients L00, L1−1, L10, L11, L2−2, L2−1, L20, L21, L22 of *log* shading,
log S = [n;1]ᵀ M(L) [n;1], with n in SIRFS's frame (first axis down the rows, second along the
columns, third towards the viewer) = (−n_y, n_x, n_z) of ours. Reading SIRFS's frame as ours
(n_x, n_y) instead — a transpose — leaves no correlation (median r −0.07).

Pixels are valid where ``mask.png`` and ``depth_valid.png`` hold and all four neighbours have depth
(the object loses one pixel of rim, so no difference straddles the silhouette). At the network's
size the object is cropped (5% margin), padded to a square, area-resized; a pixel is kept only if
it is fully valid (``imageops.resize_mask``), and the image is scaled by
``imageops.normalize_intensity``, the same function the synthetic samplers apply.
"""
from __future__ import annotations

import os

import numpy as np
import scipy.io

from hg_jax.data import data_root, imageops
from hg_jax.errors import DataError, DataNotFound

# Barron & Malik's split of the 20 objects.
TRAIN_OBJECTS = ("apple", "box", "cup1", "dinosaur", "frog1", "panther", "paper1", "phone", "squirrel",
                 "teabag2")
TEST_OBJECTS = ("cup2", "deer", "frog2", "paper2", "pear", "potato", "raccoon", "sun", "teabag1", "turtle")
HOW_TO_GET = ("MBII in the SIRFS layout (folders <object>/ with Z.mat, mask.png, shading.png, ...) ships "
              "with SIRFS 1.5 (Barron & Malik), under data/MIT-Berkeley-Laboratory; this project expects "
              "it at ../shared/data/mbii beside the repo, at $HG_JAX_DATA/mbii, or at --config.data.mbii_root")


def default_root() -> str:
    """$HG_JAX_DATA/mbii if HG_JAX_DATA is set, else <repo>/../shared/data/mbii."""
    return data_root("mbii")


def list_objects(root: str) -> list[str]:
    """The object folders (those holding a Z.mat) under ``root``, sorted."""
    if not os.path.isdir(root):
        raise DataNotFound(f"MBII folder not found: {root}. {HOW_TO_GET}")
    return sorted(d for d in os.listdir(root) if os.path.isfile(os.path.join(root, d, "Z.mat")))


def object_folder(root: str, name: str) -> str:
    """The folder of object ``name``: FileNotFoundError if the data are missing, ValueError if
    ``name`` is not an MBII object."""
    if not os.path.isdir(root):
        raise DataNotFound(f"MBII folder not found: {root}. {HOW_TO_GET}")
    folder = os.path.join(root, str(name))
    if isinstance(name, str) and name and os.path.isdir(folder):
        return folder
    if name in TRAIN_OBJECTS or name in TEST_OBJECTS:
        raise DataNotFound(f"MBII object folder not found: {folder}. {HOW_TO_GET}")
    valid = sorted(set(TRAIN_OBJECTS) | set(TEST_OBJECTS) | set(list_objects(root)))
    raise DataError(f"MBII object {name!r} not in {root}; valid objects: {valid}")


def _read_image(folder: str, file: str) -> np.ndarray:
    path = os.path.join(folder, file)
    if not os.path.isfile(path):
        have = sorted(f for f in os.listdir(folder) if f.endswith(".png"))
        raise DataNotFound(f"MBII image not found: {path} (images there: {have}). {HOW_TO_GET}")
    return imageops.read_image(path)


def read_depth(path: str) -> np.ndarray:
    """``depth`` of a SIRFS Z.mat as float64 (H, W), NaN outside the object."""
    if not os.path.isfile(path):
        raise DataNotFound(f"MBII depth not found: {path}. {HOW_TO_GET}")
    try:
        z = np.asarray(scipy.io.loadmat(path)["depth"], np.float64)
    except (KeyError, ValueError, OSError, scipy.io.matlab.MatReadError) as e:
        raise DataError(f"{path}: not a SIRFS Z.mat with variable 'depth' ({e})") from None
    if z.ndim != 2:
        raise DataError(f"{path}: 'depth' has shape {z.shape}, expected a 2-D height field")
    return z


def normals_from_height(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) unit normals in the camera frame and their validity, by central differences of a
    height field ``z`` (pixel units, larger = nearer); NaN depth makes its neighbours invalid."""
    dz_dcol = 0.5 * (np.roll(z, -1, axis=1) - np.roll(z, 1, axis=1))
    dz_drow = 0.5 * (np.roll(z, -1, axis=0) - np.roll(z, 1, axis=0))
    n = np.stack([-dz_dcol, dz_drow, np.ones_like(z)], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    valid = np.all(np.isfinite(n), axis=-1)
    valid[[0, -1], :] = False                      # np.roll wrapped around there
    valid[:, [0, -1]] = False
    return np.where(valid[..., None], n, 0.0), valid


def load_object_full(root: str, name: str, input: str = "shading.png") -> dict:
    """Full-resolution arrays of one object: ``image`` (H,W) or (H,W,3) in [0,1], ``normals``
    (H,W,3), ``valid`` (mask ∧ depth_valid ∧ finite normals), ``object_mask`` (mask ∧ depth_valid)."""
    folder = object_folder(root, name)
    z = read_depth(os.path.join(folder, "Z.mat"))
    normals, ok = normals_from_height(z)
    mask = _read_image(folder, "mask.png") > 0.5
    if os.path.exists(os.path.join(folder, "depth_valid.png")):
        mask &= _read_image(folder, "depth_valid.png") > 0.5
    image = _read_image(folder, input)
    for what, a in (("mask.png", mask), (input, image)):
        if a.shape[:2] != z.shape:
            raise DataError(f"{os.path.join(folder, what)}: size {a.shape[:2]} != Z.mat's {z.shape}")
    return {"image": image, "normals": normals, "valid": mask & ok, "object_mask": mask}


def load_object(root: str, name: str, *, input: str = "shading.png", size: int = 64) -> dict:
    """One object at the network's size, float32: ``image`` (S,S,1) gray (colour inputs by Rec. 709
    luminance), background 0, robust max 1; ``target`` unit normals (S,S,3), 0 outside the mask;
    ``mask`` (S,S,1) in {0, 1}. ``input`` is any image file of the object (shading.png,
    diffuse.png, original.png, ...)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise DataError(f"MBII size = {size!r} is invalid: allowed an integer >= 1")
    full = load_object_full(root, name, input)
    box = imageops.square_crop_box(full["object_mask"])
    gray = imageops.to_gray(full["image"]) * full["object_mask"]
    image = imageops.resize_area(imageops.crop_pad(gray, box), int(size))
    normals, ok = imageops.resize_normals(imageops.crop_pad(full["normals"], box),
                                          imageops.crop_pad(full["valid"], box), int(size))
    if not ok.any():
        raise DataError(f"MBII object {name!r}: no fully valid pixel at size {size}; use a larger size")
    image = imageops.normalize_intensity(image, ok)
    return {"image": image[..., None].astype(np.float32), "target": normals.astype(np.float32),
            "mask": ok[..., None].astype(np.float32)}


def load_objects(root: str, names, *, input: str = "shading.png", size: int = 64) -> dict:
    """Stacked float32 ``image`` (N,S,S,1), ``target`` (N,S,S,3), ``mask`` (N,S,S,1), and ``names``."""
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise DataError("no MBII objects requested")
    objs = [load_object(root, n, input=input, size=size) for n in names]
    out = {k: np.stack([o[k] for o in objs]) for k in ("image", "target", "mask")}
    out["names"] = names
    return out


# ---- SIRFS's spherical-harmonic light: the check of the normal convention --------------------

_C = (0.429043, 0.511664, 0.743125, 0.886227, 0.247708)   # Ramamoorthi & Hanrahan (2001), Eq. 12


def to_sirfs_frame(normals: np.ndarray) -> np.ndarray:
    """Camera-frame normals (x right, y up, z out) -> SIRFS's (down the rows, along the columns, out)."""
    return np.stack([-normals[..., 1], normals[..., 0], normals[..., 2]], axis=-1)


def sh_log_shading(normals: np.ndarray, light: np.ndarray) -> np.ndarray:
    """SIRFS's log shading [n;1]ᵀ M [n;1] of camera-frame ``normals`` (..., 3) under ``light``: 9
    coefficients L00, L1−1, L10, L11, L2−2, L2−1, L20, L21, L22 in SIRFS's frame."""
    c1, c2, c3, c4, c5 = _C
    L = np.asarray(light, np.float64).ravel()
    if L.size != 9:
        raise DataError(f"SH light has {L.size} coefficients, expected 9 (second order)")
    m = np.array([
        [c1 * L[8], c1 * L[4], c1 * L[7], c2 * L[3]],
        [c1 * L[4], -c1 * L[8], c1 * L[5], c2 * L[1]],
        [c1 * L[7], c1 * L[5], c3 * L[6], c2 * L[2]],
        [c2 * L[3], c2 * L[1], c2 * L[2], c4 * L[0] - c5 * L[6]],
    ])
    n = to_sirfs_frame(np.asarray(normals, np.float64))
    n4 = np.concatenate([n, np.ones(n.shape[:-1] + (1,))], axis=-1)
    return np.einsum("...i,ij,...j->...", n4, m, n4)


def render_sh_shading(normals: np.ndarray, light: np.ndarray) -> np.ndarray:
    """Lambertian shading (linear) of camera-frame normals under a SIRFS SH light."""
    return np.exp(sh_log_shading(normals, light))


def read_gray_light(root: str, name: str) -> np.ndarray:
    """The 9 SH coefficients SIRFS fitted to the object's shading image (``gray_lights.shading``)."""
    path = os.path.join(object_folder(root, name), "L.mat")
    if not os.path.isfile(path):
        raise DataNotFound(f"MBII light not found: {path}. {HOW_TO_GET}")
    try:
        data = scipy.io.loadmat(path)
        return np.asarray(data["gray_lights"]["shading"][0, 0], np.float64).ravel()
    except (KeyError, ValueError, IndexError, OSError, scipy.io.matlab.MatReadError) as e:
        raise DataError(f"{path}: not a SIRFS L.mat with gray_lights.shading ({e})") from None


def shading_correlation(root: str, name: str, flip: tuple[int, int] = (1, 1)) -> float:
    """Pearson r over the valid pixels between ``shading.png`` and the shading rendered from our
    normals (x, y multiplied by ``flip``) with the object's SH light."""
    full = load_object_full(root, name, "shading.png")
    v = full["valid"]
    n = full["normals"][v] * np.array([flip[0], flip[1], 1.0])
    return float(np.corrcoef(render_sh_shading(n, read_gray_light(root, name)), full["image"][v])[0, 1])
