"""RGB-D frames -> real sets for normal estimation: depth readers, depth -> normals, loaders.

Depth encodings (all become metres, 0 = invalid):

- ``nyu_raw``: raw NYU Depth V2 Kinect frames (``*.pgm``, 640×480). The file's header says 16-bit
  big-endian, but the values are stored byte-swapped (the NYU toolbox ``swapbytes`` them, Open3D's
  ``CreateFromNYUFormat`` swaps after a big-endian read): read as written, the embedded frame has
  values up to 65287; swapped, 839..2047, i.e. 11-bit Kinect disparity. We swap when the values
  read per the header exceed 2047 and the swapped ones do not. depth_m = 351.3 / (1092.5 − raw)
  (NYU toolbox ``depth_rel2depth_abs`` / ``camera_params.m``); raw == 2047 (no return) and depths
  outside (0, 10] m are invalid (the toolbox clips them to [0, 10]; clipped values are not depth).
  The raw depth is in the *depth* camera, not registered to the colour image: ``load_embedded``
  registers it (see ``register_depth``); folder-format frames are assumed registered.
- ``sun_shifted``: SUN RGB-D 16-bit PNGs, mm = (v >> 3) | (v << 13) in 16 bits (a rotate right by 3;
  Open3D's ``CreateFromSUNFormat``), metres = mm / 1000, 0 invalid.
- ``metres_scale``: any 8/16-bit single-channel image, metres = value × depth_scale, 0 invalid.

Normals (``normals_from_depth``): pixels are back-projected with the intrinsics into the project's
camera frame (OpenGL: +X right, +Y up, +Z towards the viewer, so a visible point has z = −depth):
X = (u − cx) d / fx, Y = −(v − cy) d / fy, Z = −d. Each pixel's normal is the least-variance
direction (PCA) of the points in its k×k window, using only neighbours whose depth is within
``max_jump`` (relative, per pixel of distance) of the centre's, so no plane is fitted across an occlusion edge; it is then
oriented towards the camera (n · p < 0). A pixel is valid when it has depth and at least half of
its window survives. Kinect depth is quantised (steps of d²/351.3 m: 2.6 cm at 3 m), hence the wide window.

Framing: the 640×480 frame is centre-cropped to 480×480 (columns 80..559), then area-resized to
S×S (``imageops``); normals are averaged over valid pixels and renormalised, and a pixel is kept
only if fully valid (``imageops.resize_normals``). The image is the stored colour decoded from sRGB to
linear (renders are linear: generators/rendered.py) or its Rec. 709 luminance (``gray=True``), scaled by
``imageops.normalize_intensity`` over the whole frame (a scene fills the frame, like a scene
render), not only where the normals are valid.
"""
from __future__ import annotations

import json
import os

import numpy as np
from PIL import Image

from hg_jax.data import data_root, imageops
from hg_jax.colour import srgb_to_linear
from hg_jax.errors import DataError, DataNotFound

ENCODINGS = ("metres_scale", "nyu_raw", "sun_shifted")
COLOR_EXTS = (".png", ".jpg", ".ppm")
DEPTH_EXTS = (".png", ".pgm")
MAX_DEPTH_M = 10.0
WINDOW, STEP = 17, 2   # 17 px ≈ 9 cm at 3 m: spans several Kinect depth steps (~2.6 cm there)

# NYU toolbox camera_params.m (RGBDemo calibration): colour camera, depth camera, and the translation
# (t_x, t_y, t_z) in metres, OpenCV frame (x right, y down, z forward). Applied depth -> colour it
# must be negated: on the embedded frame, image gradients at the registered depth edges are strongest
# (3.3× the mean) at t_x = -0.025 m, vs 2.5× unregistered and 2.4× at +0.025 m.
NYU_RGB = {"fx": 518.857901, "fy": 519.469611, "cx": 325.582449, "cy": 253.736166}
NYU_DEPTH = {"fx": 582.624482, "fy": 582.691033, "cx": 313.044759, "cy": 238.443896}
NYU_DEPTH_TO_RGB_T = (-0.025031875, -0.000662387, 0.000293423)
# SUN RGB-D per-sensor intrinsics.txt; the embedded SUN frame's sensor is not recorded (640×480 rules
# out kv2 and realsense; Kinect v1 and Xtion remain). We use the Xtion's, the sensor of most 640×480
# SUN RGB-D frames (SUN3D, xtion_align_data); floor ⟂ walls holds within 1° with either.
SUN_XTION = {"fx": 570.342205, "fy": 570.342205, "cx": 310.0, "cy": 225.0}
SUN_KV1 = {"fx": 520.532, "fy": 520.7444, "cx": 277.9258, "cy": 215.115}


def default_root() -> str:
    """$HG_JAX_DATA/rgbd if HG_JAX_DATA is set, else <repo>/../shared/data/rgbd."""
    return data_root("rgbd")


# ---- depth readers -----------------------------------------------------------------------------

def _read_uint(path: str, what: str) -> np.ndarray:
    """A single-channel 8/16-bit image as int64 (values as written, no scaling)."""
    if not os.path.isfile(path):
        raise DataNotFound(f"{what} not found: {path}")
    with Image.open(path) as im:
        a = np.asarray(im)
    if a.ndim != 2 or a.dtype.kind not in "iub" or a.min() < 0 or a.max() > 65535:
        raise DataError(f"{path}: {what} must be a single-channel 8- or 16-bit image, got "
                         f"shape {a.shape} dtype {a.dtype}")
    return a.astype(np.int64)


def nyu_raw_to_metres(raw: np.ndarray) -> np.ndarray:
    """NYU Kinect disparity (11 bit) -> metres, 0 where invalid (2047, or outside (0, 10] m)."""
    raw = np.asarray(raw, np.float64)
    with np.errstate(divide="ignore"):
        d = 351.3 / (1092.5 - raw)
    return np.where((raw < 2047) & (d > 0) & (d <= MAX_DEPTH_M), d, 0.0)


def sun_to_metres(v: np.ndarray) -> np.ndarray:
    """SUN RGB-D's bit-rotated 16-bit depth -> metres, 0 invalid."""
    v = np.asarray(v).astype(np.uint16)
    mm = ((v >> 3) | (v << 13)).astype(np.uint16)
    return mm.astype(np.float64) / 1000.0


def read_depth(path: str, encoding: str = "metres_scale", depth_scale: float = 1.0) -> np.ndarray:
    """A depth file -> (H, W) float64 metres, 0 where invalid (see the module doc for encodings)."""
    if encoding not in ENCODINGS:
        raise DataError(f"depth encoding {encoding!r} for {path} is invalid: allowed {ENCODINGS}")
    raw = _read_uint(path, "depth image")
    if encoding == "nyu_raw":
        if raw.max() > 2047:
            swapped = raw.astype(np.uint16).byteswap().astype(np.int64)
            if swapped.max() > 2047:
                raise DataError(f"{path}: not NYU raw Kinect disparity (values up to {raw.max()}, "
                                 f"{swapped.max()} byte-swapped; expected 11-bit, <= 2047)")
            raw = swapped
        return nyu_raw_to_metres(raw)
    if encoding == "sun_shifted":
        return sun_to_metres(raw)
    if not np.isfinite(depth_scale) or depth_scale <= 0:
        raise DataError(f"depth_scale = {depth_scale!r} for {path} is invalid: allowed a number > 0 "
                         "(metres per stored unit)")
    return raw * float(depth_scale)


# ---- geometry ----------------------------------------------------------------------------------

def backproject(depth: np.ndarray, K: dict) -> np.ndarray:
    """(H, W) metres -> (H, W, 3) points in the OpenGL camera frame (z = −depth)."""
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.stack([(u - K["cx"]) * depth / K["fx"], -(v - K["cy"]) * depth / K["fy"], -depth], -1)


def _lattice_box_mean(a: np.ndarray, half: int, step: int) -> np.ndarray:
    """Mean of (C, H, W) ``a`` over the (2·half + 1)² pixels at offsets step·(−half..half) in each
    axis (zero outside the image): a box filter on each of the step² interleaved sub-lattices."""
    from scipy import ndimage
    c, h, w = a.shape
    hp, wp = -(-h // step) * step, -(-w // step) * step
    a = np.pad(a, ((0, 0), (0, hp - h), (0, wp - w))).reshape(c, hp // step, step, wp // step, step)
    size = (1, 2 * half + 1, 1, 2 * half + 1, 1)
    return ndimage.uniform_filter(a, size, mode="constant", cval=0.0).reshape(c, hp, wp)[:, :h, :w]


def normals_from_depth(depth: np.ndarray, K: dict, window: int = WINDOW, step: int = STEP,
                       max_jump: float = 0.04) -> tuple[np.ndarray, np.ndarray]:
    """Unit normals (H, W, 3) in the OpenGL camera frame and validity (H, W), by windowed PCA (see
    the module doc) over every ``step``-th pixel of a ``window``-pixel square. ``max_jump``: largest
    |Δdepth| / depth per pixel of (Chebyshev) distance of a neighbour that joins the fit, so that
    oblique planes are kept while steps larger than that are rejected.

    Vectorised: where every measured neighbour passes the ``max_jump`` test (checked conservatively
    with max / min filters, ring by ring) the window's sums of 1, p and p pᵀ are box filters on the
    step-lattices; only the remaining pixels (near depth edges) accumulate neighbour by neighbour.
    The results equal the neighbour-by-neighbour fit up to rounding."""
    from scipy import ndimage
    if window < 3 or window % 2 == 0 or step < 1 or (window // 2) % step:   # symmetric about 0
        raise DataError(f"window = {window!r}, step = {step!r} are invalid: allowed an odd window >= 3 "
                         "whose half-width is a multiple of step >= 1")
    depth = np.asarray(depth, np.float64)
    ok = np.isfinite(depth) & (depth > 0)
    depth = np.where(ok, depth, 0.0)
    h, w = depth.shape
    r = window // 2
    half = r // step
    n_off = (2 * half + 1) ** 2
    p = backproject(depth, K)
    centre = p[ok].mean(0) if ok.any() else np.zeros(3)
    pc = np.where(ok[..., None], p - centre, 0.0)     # centred on the frame: less cancellation below

    # pixels whose every measured neighbour is within reach (ring k at distance k·step: reach k·step)
    clean = ok.copy()
    far = np.where(ok, depth, np.inf)
    for k in range(1, half + 1):
        size = 2 * k * step + 1
        reach = max_jump * (k * step) * depth
        clean &= ndimage.maximum_filter(depth, size, mode="constant", cval=0.0) - depth <= reach
        clean &= depth - ndimage.minimum_filter(far, size, mode="constant", cval=np.inf) <= reach

    iu = ([0, 0, 0, 1, 1, 2], [0, 1, 2, 1, 2, 2])      # the 6 distinct entries of p pᵀ
    fields = np.concatenate([ok[None].astype(np.float64), pc.transpose(2, 0, 1),
                             pc[..., iu[0]].transpose(2, 0, 1) * pc[..., iu[1]].transpose(2, 0, 1)])
    box = _lattice_box_mean(fields, half, step)        # (10, H, W), sums / n_off
    count = np.rint(box[0] * n_off)
    n_safe = np.maximum(box[0], 1e-12)
    mean = (box[1:4] / n_safe).transpose(1, 2, 0)
    cov = np.zeros((h, w, 3, 3))
    for e, (i, j) in enumerate(zip(*iu)):
        cov[..., i, j] = cov[..., j, i] = box[4 + e] / n_safe - mean[..., i] * mean[..., j]

    ys, xs = np.nonzero(ok & ~clean)                   # near depth edges: neighbour by neighbour
    if len(ys):
        pi, di = p[ys, xs], depth[ys, xs]
        cnt = np.zeros(len(ys))
        s1 = np.zeros((len(ys), 3))
        s2 = np.zeros((len(ys), 3, 3))
        for oy in range(-r, r + 1, step):
            for ox in range(-r, r + 1, step):
                yy, xx = ys + oy, xs + ox
                inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
                yy, xx = np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)
                dn = np.where(inside, depth[yy, xx], 0.0)
                reach = max_jump * max(abs(oy), abs(ox), 1)
                use = (dn > 0) & (np.abs(dn - di) <= reach * di)
                q = (p[yy, xx] - pi) * use[:, None]    # centred on the pixel: no cancellation
                cnt += use
                s1 += q
                s2 += q[:, :, None] * q[:, None, :]
        m1 = s1 / np.maximum(cnt, 1)[:, None]
        count[ys, xs] = cnt
        cov[ys, xs] = s2 / np.maximum(cnt, 1)[:, None, None] - m1[:, :, None] * m1[:, None, :]

    valid = ok & (count >= 0.5 * n_off)
    n = np.zeros((h, w, 3))
    if valid.any():
        _, vecs = np.linalg.eigh(cov[valid])
        n[valid] = vecs[..., :, 0]                     # eigenvector of the smallest eigenvalue
    n = np.where((np.sum(n * p, -1) > 0)[..., None], -n, n)   # towards the camera: n · p < 0
    return n, valid


def register_depth(depth: np.ndarray, K_depth: dict, K_rgb: dict, t: tuple,
                   shape: tuple[int, int]) -> np.ndarray:
    """Reproject a depth map from the depth camera to the colour camera (translation ``t`` in
    metres, OpenCV frame; the NYU calibration's rotation, < 0.4°, is ignored), nearest pixel with a
    z-buffer; unseen colour pixels get 0. Normals are computed afterwards on the registered map."""
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    m = depth > 0
    z = depth[m]
    x = (u[m] - K_depth["cx"]) * z / K_depth["fx"] + t[0]
    y = (v[m] - K_depth["cy"]) * z / K_depth["fy"] + t[1]
    z = z + t[2]
    ur = np.round(x / z * K_rgb["fx"] + K_rgb["cx"]).astype(np.int64)
    vr = np.round(y / z * K_rgb["fy"] + K_rgb["cy"]).astype(np.int64)
    inside = (z > 0) & (ur >= 0) & (ur < shape[1]) & (vr >= 0) & (vr < shape[0])
    idx, z = vr[inside] * shape[1] + ur[inside], z[inside]
    order = np.lexsort((z, idx))                          # per target pixel, nearest first
    idx, z = idx[order], z[order]
    first = np.r_[True, idx[1:] != idx[:-1]]
    out = np.zeros(shape[0] * shape[1])
    out[idx[first]] = z[first]
    return out.reshape(shape)


# ---- framing -----------------------------------------------------------------------------------

def to_real_set_item(color: np.ndarray, normals: np.ndarray, valid: np.ndarray, size: int,
                     gray: bool = False) -> dict:
    """One frame at the network's size: centre square crop, area resize, normalised image."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise DataError(f"size = {size!r} is invalid: allowed an integer >= 1")
    h, w = valid.shape
    if color.shape[:2] != (h, w):
        raise DataError(f"colour image {color.shape[:2]} and depth {(h, w)} differ in size")
    side = min(h, w)
    box = ((h - side) // 2, (w - side) // 2, side)
    color = srgb_to_linear(np.clip(np.asarray(color, np.float64), 0.0, 1.0))   # renders are linear
    img = imageops.to_gray(color)[..., None] if gray else (color if color.ndim == 3 else color[..., None])
    img = imageops.resize_area(imageops.crop_pad(img, box), int(size))
    img = imageops.normalize_intensity(img, np.ones(img.shape[:2], bool))
    n, ok = imageops.resize_normals(imageops.crop_pad(normals, box), imageops.crop_pad(valid, box),
                                    int(size))
    return {"image": img.astype(np.float32), "target": n.astype(np.float32),
            "mask": ok[..., None].astype(np.float32)}


def stack(items: list[dict], names: list[str]) -> dict:
    out = {k: np.stack([it[k] for it in items]) for k in ("image", "target", "mask")}
    out["names"] = list(names)
    return out


def _read_color(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise DataNotFound(f"colour image not found: {path}")
    return imageops.read_image(path)


def load_frame(color_path: str, depth_path: str, K: dict, size: int, *, encoding: str = "metres_scale",
               depth_scale: float = 1.0, gray: bool = False, window: int = WINDOW) -> dict:
    """One registered colour + depth pair -> real-set item (image, target, mask)."""
    depth = read_depth(depth_path, encoding, depth_scale)
    n, ok = normals_from_depth(depth, K, window)
    return to_real_set_item(_read_color(color_path), n, ok, size, gray)


def load_embedded(root: str | None = None, size: int = 64, gray: bool = False) -> dict:
    """The two embedded frames (names "NYU", "SUN") of ../shared/data/rgbd as a real set. NYU's raw
    depth is registered to its colour camera first; SUN's is registered already (Xtion intrinsics)."""
    root = default_root() if root is None else root
    if not os.path.isdir(root):
        raise DataNotFound(f"RGB-D folder not found: {root} (expected NYU_color.ppm, NYU_depth.pgm, "
                                "SUN_color.jpg, SUN_depth.png; set HG_JAX_DATA)")
    color = _read_color(os.path.join(root, "NYU_color.ppm"))
    depth = read_depth(os.path.join(root, "NYU_depth.pgm"), "nyu_raw")
    depth = register_depth(depth, NYU_DEPTH, NYU_RGB, NYU_DEPTH_TO_RGB_T, color.shape[:2])
    n, ok = normals_from_depth(depth, NYU_RGB)
    items = [to_real_set_item(color, n, ok, size, gray)]
    items.append(load_frame(os.path.join(root, "SUN_color.jpg"), os.path.join(root, "SUN_depth.png"),
                            SUN_XTION, size, encoding="sun_shifted", gray=gray))
    return stack(items, ["NYU", "SUN"])


# ---- generic folder format ---------------------------------------------------------------------

def _find(folder: str, stem: str, exts: tuple, what: str) -> str:
    for e in exts:
        if os.path.isfile(os.path.join(folder, stem + e)):
            return os.path.join(folder, stem + e)
    raise DataNotFound(f"{what} not found: {os.path.join(folder, stem)}{{{','.join(exts)}}}")


def read_intrinsics(folder: str, name: str) -> dict:
    """``<name>_intrinsics.json`` if present, else ``intrinsics.json``: fx, fy, cx, cy (pixels),
    depth_scale (metres per unit; needed for metres_scale) and optional encoding."""
    path = os.path.join(folder, f"{name}_intrinsics.json")
    if not os.path.isfile(path):
        path = os.path.join(folder, "intrinsics.json")
    if not os.path.isfile(path):
        raise DataNotFound(f"intrinsics not found for {name!r}: expected {path} or "
                                f"{os.path.join(folder, name + '_intrinsics.json')} with fx, fy, cx, cy, "
                                "depth_scale")
    try:
        with open(path) as f:
            cfg = json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise DataError(f"{path}: expected a JSON object with fx, fy, cx, cy, depth_scale")
    enc = cfg.get("encoding", "metres_scale")
    if enc not in ENCODINGS:
        raise DataError(f"{path}: encoding {enc!r} is invalid: allowed {ENCODINGS}")
    need = ("fx", "fy", "cx", "cy") + (("depth_scale",) if enc == "metres_scale" else ())
    for k in need:
        v = cfg.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or \
                (k != "cx" and k != "cy" and v <= 0):
            raise DataError(f"{path}: field {k!r} = {v!r} is invalid: allowed a finite number"
                             f"{'' if k in ('cx', 'cy') else ' > 0'}")
    out = {k: float(cfg[k]) for k in ("fx", "fy", "cx", "cy")}
    out["depth_scale"] = float(cfg.get("depth_scale", 1.0))
    out["encoding"] = enc
    return out


def list_frames(path: str) -> list[str]:
    """Names <name> of every <name>_depth.(png|pgm) in ``path``, sorted."""
    if not os.path.isdir(path):
        raise DataNotFound(f"RGB-D folder not found: {path} (expected <name>_color.png|jpg|ppm, "
                                "<name>_depth.png|pgm, intrinsics.json)")
    return sorted(f.rsplit("_depth", 1)[0] for f in os.listdir(path)
                  if f.rsplit("_depth", 1)[-1] in DEPTH_EXTS and "_depth" in f)


def load_rgbd_folder(path: str, size: int = 64, names=None, gray: bool = False) -> dict:
    """Every frame (or ``names``) of a folder in the rgbd format (module doc) as a real set."""
    all_names = list_frames(path)
    names = all_names if names is None else ([names] if isinstance(names, str) else list(names))
    if not names:
        raise DataError(f"{path}: no frames (<name>_depth.png|pgm) found")
    items = []
    for name in names:
        K = read_intrinsics(path, name)
        color = _find(path, f"{name}_color", COLOR_EXTS, "colour image")
        depth = _find(path, f"{name}_depth", DEPTH_EXTS, "depth image")
        items.append(load_frame(color, depth, K, size, encoding=K["encoding"],
                                depth_scale=K["depth_scale"], gray=gray))
    return stack(items, names)
