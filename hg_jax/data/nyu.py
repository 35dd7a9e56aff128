"""NYU Depth V2 labelled set and the normal-map formats published for it, as real sets.

- ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3 = HDF5, read with h5py): ``images`` (N, 3, W, H) uint8
  and ``depths`` / ``rawDepths`` (N, W, H) float metres, stored transposed (MATLAB is column-major):
  frame i is ``images[i].transpose(2, 1, 0)`` (H, W, 3) and ``depths[i].T``. The depth is registered
  to the colour camera, so normals use NYU's colour intrinsics (``rgbd.NYU_RGB``). ``depths`` is
  in-painted; normals are computed from it but kept only where ``rawDepths`` > 0 (measured), when
  ``rawDepths`` exists.
- ``splits.mat``: ``trainNdxs`` (795) / ``testNdxs`` (654), 1-based indices into the .mat.
- Eigen & Fergus's ``normals_gt`` (from Ladicky et al.): ``normals/%04d.png`` 8-bit RGB,
  n = v / 255 · 2 − 1, and ``masks/%04d.png``; files are numbered by the frame's index in the .mat,
  0-based in the release (0000..1448), 1-based in some re-packagings: we take 0-based if
  ``normals/0000.png`` exists, else 1-based if ``0001.png`` exists. Its axes could not be checked
  here (the data are not available offline), so they are a parameter (``axes``, default the
  camera frame x right, y up, z towards the viewer = ours); check on one frame before relying on it.
- Zhang et al. CVPR 2017 predictions (``*_normal_est.png``): RGB PNG, v / (2^bits − 1) · 2 − 1
  (the README says 16 bit; the embedded files are 8-bit 320×240, both are read), axes X right,
  Y forward (away from the camera), Z up, i.e. ours = (X, Z, −Y) (``ZHANG_AXES``). Checked on the 5
  embedded predictions (tests/test_nyu_data.py), regions verified by eye on the photos: the
  up-facing horizontal surfaces at the bottom centre (desk top in 0008, window ledge in 0013,
  corridor floor in 0014) have the third channel > 0.9, the ceiling (top centre of 0001, 0008, 0013,
  0014) has it < −0.5, the walls facing left at the right edge (0000, 0014) have the first
  channel < −0.8 and the wall facing right at the left edge of 0001 has it > +0.8.

``axes`` strings name, for each stored channel, the canonical axis it holds with its sign: ours =
"x,y,z", Zhang's = "x,-z,y" (channel 0 = +x, channel 1 = −z, channel 2 = +y).
"""
from __future__ import annotations

import hashlib
import os

import numpy as np

from hg_jax.data import imageops, rgbd
from hg_jax.errors import DataError, DataNotFound

CANONICAL_AXES = "x,y,z"
ZHANG_AXES = "x,-z,y"
SPLITS = ("train", "test", "all")


def to_canonical(n: np.ndarray, axes: str) -> np.ndarray:
    """Stored normals (..., 3) whose channels hold the signed canonical axes named by ``axes``."""
    parts = [p.strip() for p in str(axes).split(",")]
    names = [p.lstrip("+-") for p in parts]
    if len(parts) != 3 or sorted(names) != ["x", "y", "z"]:
        raise DataError(f"axes = {axes!r} is invalid: allowed a permutation of x,y,z with optional "
                         "signs, e.g. 'x,y,z' or 'x,-z,y'")
    out = np.zeros_like(n, dtype=np.float64)
    for c, (p, a) in enumerate(zip(parts, names)):
        out[..., "xyz".index(a)] = -n[..., c] if p.startswith("-") else n[..., c]
    return out


def read_normal_png(path: str, axes: str) -> tuple[np.ndarray, np.ndarray]:
    """An RGB normal map (8 or 16 bit, [0, max] ↦ [-1, 1]) -> canonical unit normals, validity
    (finite, length within 0.5..1.5 before renormalising)."""
    if not os.path.isfile(path):
        raise DataNotFound(f"normal map not found: {path}")
    a = imageops.read_image(path)
    if a.ndim != 3:
        raise DataError(f"{path}: normal map must be RGB, got shape {a.shape}")
    n = to_canonical(a * 2.0 - 1.0, axes)
    norm = np.linalg.norm(n, axis=-1)
    ok = (norm > 0.5) & (norm < 1.5)
    return np.where(ok[..., None], n / np.maximum(norm, 1e-12)[..., None], 0.0), ok


def read_splits(path: str) -> dict:
    """``splits.mat`` -> {"train": 0-based indices, "test": 0-based indices}."""
    import scipy.io
    if not os.path.isfile(path):
        raise DataNotFound(f"NYU split file not found: {path} (expected splits.mat with trainNdxs, "
                                "testNdxs, 1-based)")
    try:
        m = scipy.io.loadmat(path)
        return {"train": np.asarray(m["trainNdxs"]).ravel().astype(np.int64) - 1,
                "test": np.asarray(m["testNdxs"]).ravel().astype(np.int64) - 1}
    except (KeyError, ValueError, OSError, scipy.io.matlab.MatReadError) as e:
        raise DataError(f"{path}: not an NYU splits.mat with trainNdxs and testNdxs ({e})") from None


def normals_gt_path(folder: str, index: int) -> tuple[str, str]:
    """(normal png, mask png) of frame ``index`` (0-based in the .mat) in a normals_gt folder."""
    nd = os.path.join(folder, "normals")
    if not os.path.isdir(nd):
        raise DataNotFound(f"normals_gt folder not found: {nd} (expected normals/%04d.png and "
                                "masks/%04d.png)")
    if os.path.isfile(os.path.join(nd, "0000.png")):
        k = index
    elif os.path.isfile(os.path.join(nd, "0001.png")):
        k = index + 1
    else:
        raise DataError(f"{nd}: neither 0000.png (0-based) nor 0001.png (1-based) found: "
                         "not a normals_gt layout")
    return os.path.join(nd, f"{k:04d}.png"), os.path.join(folder, "masks", f"{k:04d}.png")


def read_normals_gt(folder: str, index: int, axes: str = CANONICAL_AXES) -> tuple[np.ndarray, np.ndarray]:
    npath, mpath = normals_gt_path(folder, index)
    n, ok = read_normal_png(npath, axes)
    if not os.path.isfile(mpath):
        raise DataNotFound(f"normals_gt mask not found: {mpath}")
    mask = imageops.read_image(mpath)
    mask = (mask if mask.ndim == 2 else mask[..., 0]) > 0.5
    if mask.shape != ok.shape:
        raise DataError(f"{mpath}: size {mask.shape} != normal map's {ok.shape}")
    return np.where((ok & mask)[..., None], n, 0.0), ok & mask


def _depth_normals(depth: np.ndarray, mat_path: str, index: int, cache_dir: str | None):
    """normals_from_depth of one frame, cached in ``cache_dir`` (if given) as .npz keyed by the
    .mat's absolute path, its size in bytes, the frame index and the window parameters."""
    if cache_dir is None:
        return rgbd.normals_from_depth(depth, rgbd.NYU_RGB)
    key = f"{os.path.abspath(mat_path)}|{os.path.getsize(mat_path)}|{index}|{rgbd.WINDOW}|{rgbd.STEP}"
    path = os.path.join(cache_dir, f"nyu_normals_{index:04d}_{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz")
    if os.path.isfile(path):
        try:
            with np.load(path) as z:
                if z["normals"].shape[:2] == depth.shape:
                    return z["normals"].astype(np.float64), z["valid"]
        except (OSError, ValueError, KeyError):
            pass                                          # unreadable: recompute and overwrite
    n, ok = rgbd.normals_from_depth(depth, rgbd.NYU_RGB)
    os.makedirs(cache_dir, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, normals=n.astype(np.float32), valid=ok)
    os.replace(tmp, path)
    return n.astype(np.float32).astype(np.float64), ok   # the same values as a later cache hit


def load_labeled(mat_path: str, split_path: str | None = None, split: str = "test", indices=None,
                 size: int = 64, normals: str = "depth", gray: bool = False,
                 axes: str = CANONICAL_AXES, cache_dir: str | None = None) -> dict:
    """Frames of the labelled set as a real set (names "nyu_%04d", 0-based). ``indices`` (0-based)
    override ``split``; otherwise ``split`` picks from ``split_path`` (default: splits.mat beside the
    .mat), "all" takes every frame. ``normals`` = "depth" (computed, module doc) or a normals_gt
    folder read with ``axes``. ``cache_dir``: keep computed depth normals there as .npz (float32),
    keyed by the .mat's path, size and the frame index."""
    import h5py
    if not os.path.isfile(mat_path):
        raise DataNotFound(f"NYU labelled set not found: {mat_path} (expected "
                                "nyu_depth_v2_labeled.mat, MATLAB v7.3)")
    try:
        f = h5py.File(mat_path, "r")
    except OSError as e:
        raise DataError(f"{mat_path}: not an HDF5 (MATLAB v7.3) file ({e})") from None
    with f:
        for k in ("images", "depths"):
            if k not in f:
                raise DataError(f"{mat_path}: dataset {k!r} missing (has {sorted(f.keys())})")
        count = f["images"].shape[0]
        if indices is None:
            if split not in SPLITS:
                raise DataError(f"split = {split!r} is invalid: allowed {SPLITS}")
            if split == "all":
                indices = np.arange(count)
            else:
                sp = split_path or os.path.join(os.path.dirname(mat_path), "splits.mat")
                indices = read_splits(sp)[split]
        indices = [int(i) for i in np.atleast_1d(indices)]
        bad = [i for i in indices if not 0 <= i < count]
        if bad:
            raise DataError(f"{mat_path}: indices {bad[:5]} out of range: allowed 0..{count - 1}")
        items = []
        for i in indices:
            color = np.asarray(f["images"][i]).transpose(2, 1, 0).astype(np.float64) / 255.0
            depth = np.asarray(f["depths"][i], np.float64).T
            if normals == "depth":
                n, ok = _depth_normals(depth, mat_path, i, cache_dir)
                if "rawDepths" in f:
                    ok &= np.asarray(f["rawDepths"][i]).T > 0
            else:
                n, ok = read_normals_gt(normals, i, axes)
            items.append(rgbd.to_real_set_item(color, n, ok, size, gray))
    return rgbd.stack(items, [f"nyu_{i:04d}" for i in indices])
