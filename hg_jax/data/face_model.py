"""3D morphable face models (3DMMs): one in-memory layout and loaders for ICT-FaceKit and the Basel
Face Model (2009 ``.mat``, 2017/2019 ``.h5``). Host side: numpy (+ scipy / h5py), no jax.

Layout (``MorphableModel``), every length in **centimetres** after loading:

- ``mean``                (V, 3)      the mesh at zero coefficients (BFM 2017/2019: shape mean plus
                                      expression mean; ICT: the neutral face)
- ``triangles``           (F, 3)      0-based vertex indices, wound counter-clockwise seen from the
                                      front (OpenGL), see *winding* below
- ``identity_basis``      (Ni, V, 3)  mode-major: ``identity_basis[i]`` is mode i's vertex offsets
- ``identity_std``        (Ni,)       per-mode standard deviation (cm); a coefficient c_i is in units
                                      of it, so identity coefficients are ~ N(0, 1) for every model
- ``expression_basis``    (Ne, V, 3), ``expression_std`` (Ne,) likewise
- ``expression_kind``     ``"pca"``  (coefficients ~ N(0, 1), BFM) or ``"blendshape"`` (weights in
                                      [0, 1], ICT's ARKit-style targets: offsets of a full expression)
- ``color_mean`` (V, 3), ``color_basis`` (Nc, V, 3), ``color_std`` (Nc,): optional per-vertex RGB
  as stored by the model, scaled to [0, 1] (BFM 2009's [0, 255] divided by 255); ``None`` for ICT
- ``landmarks68``         (68,) vertex indices in iBUG-68 order, or ``None``

    vertices(c_id, c_expr) = mean + Σ_i c_id[i] · identity_std[i] · identity_basis[i]
                                  + Σ_j c_expr[j] · expression_std[j] · expression_basis[j]

Shorter coefficient vectors are zero-padded (the first modes); longer ones are an error.

Sources (looked up in public converters of the official files, e.g. eos's ``convert-bfm2009-to-eos.py``
and ``convert-bfm2017-to-eos.py``, Deep3DFaceRecon's ``convert_bfm09_data.py``):

- ICT-FaceKit light (``ict_face_light.npz``, converted from its OBJ morph targets): ``neutral``
  (V, 3), ``triangles``, ``identity`` (100, V, 3) offsets for weights ~ N(0, 1), ``expression``
  (57, V, 3) blendshape offsets, ``expression_names``, ``landmarks68``. Already centimetres.
- BFM 2009 ``01_MorphableModel.mat``: ``shapeMU`` (3V, 1) interleaved x, y, z; ``shapePC``
  (3V, 199) orthonormal columns; ``shapeEV`` (199, 1) the **standard deviations** (not variances);
  ``texMU`` / ``texPC`` / ``texEV`` likewise for colour, in [0, 255]; ``tl`` (F, 3) **1-based**
  triangles. Lengths in **micrometres** (Deep3DFaceRecon divides by 1e5 to get decimetres), so
  ×1e-4 to cm. No expression model.
- BFM 2017 / 2019 ``.h5`` (statismo layout): ``shape/model/{mean (3V,), pcaBasis (3V, K)
  orthonormal columns, pcaVariance (K,) variances}``, ``shape/representer/{points (3, V),
  cells (3, F) 0-based}``, ``color/model/...`` (colour in [0, 1]), ``expression/model/...``
  (same three datasets, a PCA of expression offsets). Lengths in **millimetres**, ×0.1 to cm.

Winding: BFM 2009's triangles face the wrong way for OpenGL (eos swaps two indices). Rather than trust
each release, every loader re-winds the triangles so the mean mesh's area-weighted normal points
along +Z, the direction every supported model's face looks (+Y up, +X to the subject's left).

Loaders fail with the path and the missing key / dataset named.
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Optional

import numpy as np

from hg_jax.data import data_root
from hg_jax.errors import DataError, DataKeyError, DataNotFound

ICT_FILE = os.path.join("faces", "ict_face_light.npz")
UNIT_TO_CM = {"cm": 1.0, "mm": 0.1, "um": 1e-4, "m": 100.0}
# iBUG-68 landmark groups (0-based)
IBUG68_GROUPS = {"jaw": range(0, 17), "brow_right": range(17, 22), "brow_left": range(22, 27),
                 "nose": range(27, 36), "eye_right": range(36, 42), "eye_left": range(42, 48),
                 "mouth": range(48, 68)}


def default_data_root() -> str:
    """$HG_JAX_DATA if set, else <repo>/../shared/data."""
    return data_root()


def default_ict_path() -> str:
    return os.path.join(default_data_root(), ICT_FILE)


@dataclasses.dataclass(frozen=True, eq=False)
class MorphableModel:
    mean: np.ndarray
    triangles: np.ndarray
    identity_basis: np.ndarray
    identity_std: np.ndarray
    expression_basis: np.ndarray
    expression_std: np.ndarray
    expression_kind: str = "pca"
    expression_names: tuple = ()
    color_mean: Optional[np.ndarray] = None
    color_basis: Optional[np.ndarray] = None
    color_std: Optional[np.ndarray] = None
    landmarks68: Optional[np.ndarray] = None
    units: str = "cm"
    name: str = ""

    def __post_init__(self):
        v = self.mean.shape[0]
        if self.mean.shape != (v, 3):
            raise DataError(f"MorphableModel {self.name}: mean must be (V, 3), got {self.mean.shape}")
        if self.triangles.ndim != 2 or self.triangles.shape[1] != 3:
            raise DataError(f"MorphableModel {self.name}: triangles must be (F, 3), got {self.triangles.shape}")
        if self.triangles.size and (self.triangles.min() < 0 or self.triangles.max() >= v):
            raise DataError(f"MorphableModel {self.name}: triangle indices outside [0, {v})")
        for what in ("identity", "expression"):
            basis, std = getattr(self, f"{what}_basis"), getattr(self, f"{what}_std")
            if basis.ndim != 3 or basis.shape[1:] != (v, 3) or std.shape != (basis.shape[0],):
                raise DataError(f"MorphableModel {self.name}: {what}_basis {basis.shape} / {what}_std "
                                 f"{std.shape}; expected (N, {v}, 3) and (N,)")
        if self.expression_kind not in ("pca", "blendshape"):
            raise DataError(f"expression_kind {self.expression_kind!r} not in ('pca', 'blendshape')")
        if self.units != "cm":
            raise DataError("MorphableModel holds centimetres; convert in the loader")

    @property
    def n_vertices(self) -> int:
        return self.mean.shape[0]

    @property
    def n_identity(self) -> int:
        return self.identity_basis.shape[0]

    @property
    def n_expression(self) -> int:
        return self.expression_basis.shape[0]

    @staticmethod
    def _combine(basis, std, coeffs, what):
        c = np.zeros(basis.shape[0]) if coeffs is None else np.asarray(coeffs, np.float64).ravel()
        if len(c) > basis.shape[0]:
            raise DataError(f"{len(c)} {what} coefficients for a model with {basis.shape[0]} modes")
        if len(c) == 0:
            return 0.0
        w = c * std[:len(c)]
        return np.tensordot(w, basis[:len(c)], axes=1)

    def vertices(self, id_coeffs=None, expr_coeffs=None) -> np.ndarray:
        """(V, 3) float64, cm: mean + identity and expression offsets (formula in the module doc)."""
        out = self.mean.astype(np.float64)
        out = out + self._combine(self.identity_basis, self.identity_std, id_coeffs, "identity")
        out = out + self._combine(self.expression_basis, self.expression_std, expr_coeffs, "expression")
        return out

    def colors(self, color_coeffs=None) -> Optional[np.ndarray]:
        """(V, 3) per-vertex colour in [0, 1] (clipped), or None for a model without colour."""
        if self.color_mean is None:
            return None
        out = self.color_mean.astype(np.float64)
        if self.color_basis is not None:
            out = out + self._combine(self.color_basis, self.color_std, color_coeffs, "colour")
        return np.clip(out, 0.0, 1.0)

    def landmark_points(self, vertices=None) -> Optional[np.ndarray]:
        """(68, 3) landmark positions on ``vertices`` (default: the mean), or None."""
        if self.landmarks68 is None:
            return None
        v = self.mean if vertices is None else vertices
        return np.asarray(v, np.float64)[self.landmarks68]

    def anchors(self, vertices=None) -> Optional[dict]:
        """Centroids of the iBUG-68 groups (eyes, brows, nose, mouth, jaw), cm, or None."""
        lm = self.landmark_points(vertices)
        if lm is None:
            return None
        return {k: lm[list(g)].mean(0) for k, g in IBUG68_GROUPS.items()}


# ---- helpers ------------------------------------------------------------------------------------

def orient_triangles(vertices: np.ndarray, triangles: np.ndarray, forward=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Re-wind all triangles (swap two indices) if the area-weighted mean normal points away from
    ``forward``, so the surface faces the viewer of a frontal face (OpenGL counter-clockwise)."""
    v = np.asarray(vertices, np.float64)
    t = np.asarray(triangles, np.int64)
    n = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]]).sum(0)
    if float(n @ np.asarray(forward, np.float64)) < 0:
        t = t[:, [0, 2, 1]]
    return np.ascontiguousarray(t)


def _interleaved(a: np.ndarray, what: str, path: str) -> np.ndarray:
    """(3V,) or (3V, K) interleaved x, y, z -> (V, 3) or (K, V, 3)."""
    a = np.asarray(a)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.shape[0] % 3:
        raise DataError(f"{path}: {what} has {a.shape[0]} rows, not a multiple of 3 (x, y, z per vertex)")
    if a.ndim == 1:
        return a.reshape(-1, 3)
    return np.ascontiguousarray(a.T.reshape(a.shape[1], -1, 3))


def _check_scale(mean_cm: np.ndarray, path: str, unit: str) -> None:
    width = float(np.ptp(mean_cm[:, 0])) if len(mean_cm) else 0.0
    if not 5.0 <= width <= 60.0:
        warnings.warn(f"{path}: face width {width:.3g} cm after converting from {unit!r}; a face is "
                      "10-30 cm wide. Pass units= to load_bfm if the file is in other units.")


# ---- ICT-FaceKit --------------------------------------------------------------------------------

def load_ict(path: str | None = None) -> MorphableModel:
    """ICT-FaceKit light (``ict_face_light.npz``): identity N(0, 1) offsets, blendshape expressions."""
    path = path or default_ict_path()
    if not os.path.isfile(path):
        raise DataNotFound(f"ICT face model not found at {path} (expected ../shared/data/{ICT_FILE} "
                                "beside the repo, or $HG_JAX_DATA/faces/)")
    with np.load(path) as d:
        need = ("neutral", "triangles", "identity", "expression")
        missing = [k for k in need if k not in d.files]
        if missing:
            raise DataKeyError(f"{path}: missing arrays {missing} (has {sorted(d.files)})")
        mean = np.asarray(d["neutral"], np.float64)
        tri = orient_triangles(mean, d["triangles"])
        ident = np.asarray(d["identity"], np.float32)
        expr = np.asarray(d["expression"], np.float32)
        names = tuple(str(s) for s in d["expression_names"]) if "expression_names" in d.files else ()
        lm = np.asarray(d["landmarks68"], np.int64) if "landmarks68" in d.files else None
    return MorphableModel(mean=mean, triangles=tri,
                          identity_basis=ident, identity_std=np.ones(len(ident)),
                          expression_basis=expr, expression_std=np.ones(len(expr)),
                          expression_kind="blendshape", expression_names=names, landmarks68=lm,
                          name=os.path.basename(path))


# ---- Basel Face Model ---------------------------------------------------------------------------

def load_bfm(path: str, units: str | None = None, landmarks68=None) -> MorphableModel:
    """Basel Face Model: ``01_MorphableModel.mat`` (2009) or a 2017 / 2019 ``.h5``.

    ``units`` overrides the file's length unit ("um" for 2009, "mm" for .h5 by default; see the module
    doc). ``landmarks68``: optional (68,) vertex indices (the BFM files carry none).
    """
    if not os.path.isfile(path):
        raise DataNotFound(f"Basel Face Model file not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".mat":
        m = _load_bfm2009(path, units or "um")
    elif ext in (".h5", ".hdf5"):
        m = _load_bfm_h5(path, units or "mm")
    else:
        raise DataError(f"{path}: unknown Basel Face Model format {ext!r} (expected .mat or .h5)")
    if landmarks68 is not None:
        m = dataclasses.replace(m, landmarks68=np.asarray(landmarks68, np.int64))
    return m


def _read_mat(path: str) -> dict:
    import scipy.io

    try:
        return scipy.io.loadmat(path)
    except NotImplementedError:  # MATLAB v7.3 files are HDF5, stored transposed
        import h5py

        with h5py.File(path, "r") as f:
            return {k: np.asarray(f[k]).T for k in f.keys() if hasattr(f[k], "shape")}


def _load_bfm2009(path: str, units: str) -> MorphableModel:
    scale = _unit_scale(units, path)
    d = _read_mat(path)

    def get(key):
        if key not in d:
            have = sorted(k for k in d if not k.startswith("__"))
            raise DataKeyError(f"{path}: variable {key!r} missing (BFM 2009 01_MorphableModel.mat has shapeMU, "
                           f"shapePC, shapeEV, tl, texMU, texPC, texEV; this file has {have})")
        return np.asarray(d[key])

    mean = _interleaved(get("shapeMU"), "shapeMU", path).astype(np.float64) * scale
    basis = _interleaved(get("shapePC"), "shapePC", path).astype(np.float32)
    std = get("shapeEV").astype(np.float64).ravel() * scale          # standard deviations
    tl = get("tl").astype(np.int64)
    if tl.shape[0] == 3 and tl.shape[1] != 3:
        tl = tl.T
    if tl.min() < 1:
        raise DataError(f"{path}: 'tl' has index {tl.min()}; BFM 2009 triangles are 1-based")
    tri = orient_triangles(mean, tl - 1)
    color = {}
    if "texMU" in d:
        color["color_mean"] = _interleaved(get("texMU"), "texMU", path).astype(np.float64) / 255.0
        if "texPC" in d and "texEV" in d:
            color["color_basis"] = _interleaved(get("texPC"), "texPC", path).astype(np.float32)
            color["color_std"] = get("texEV").astype(np.float64).ravel() / 255.0
    _check_scale(mean, path, units)
    v = len(mean)
    return MorphableModel(mean=mean, triangles=tri, identity_basis=basis, identity_std=std,
                          expression_basis=np.zeros((0, v, 3), np.float32), expression_std=np.zeros(0),
                          expression_kind="pca", name=os.path.basename(path), **color)


def _load_bfm_h5(path: str, units: str) -> MorphableModel:
    import h5py

    scale = _unit_scale(units, path)
    with h5py.File(path, "r") as f:
        def get(key, required=True):
            if key not in f:
                if not required:
                    return None
                raise DataKeyError(f"{path}: dataset {key!r} missing (a BFM 2017/2019 .h5 has shape/model/"
                               "{mean,pcaBasis,pcaVariance}, shape/representer/cells, color/..., expression/...)")
            return np.asarray(f[key])

        def pca(group, required):
            mean = get(f"{group}/model/mean", required)
            if mean is None:
                return None
            basis = get(f"{group}/model/pcaBasis")
            var = get(f"{group}/model/pcaVariance").astype(np.float64).ravel()
            if basis.ndim != 2 or basis.shape[0] != mean.size or basis.shape[1] != var.size:
                raise DataError(f"{path}: {group}/model/pcaBasis {basis.shape} does not match mean "
                                 f"{mean.shape} and pcaVariance {var.shape} (expected (3V, K), (3V,), (K,))")
            return (_interleaved(mean.ravel(), f"{group}/model/mean", path).astype(np.float64),
                    _interleaved(basis, f"{group}/model/pcaBasis", path).astype(np.float32),
                    np.sqrt(np.maximum(var, 0.0)))

        shape = pca("shape", True)
        expr = pca("expression", False)
        color = pca("color", False)
        cells = get("shape/representer/cells").astype(np.int64)
    if cells.shape[0] == 3 and cells.shape[1] != 3:
        cells = cells.T                                                  # stored (3, F)
    mean = shape[0] * scale
    v = len(mean)
    if cells.size and cells.max() >= v:
        raise DataError(f"{path}: shape/representer/cells index {cells.max()} >= {v} vertices "
                         "(statismo cells are 0-based)")
    if expr is not None:
        if expr[0].shape != mean.shape:
            raise DataError(f"{path}: expression/model/mean has {len(expr[0])} vertices, shape has {v}")
        mean = mean + expr[0] * scale
        e_basis, e_std = expr[1], expr[2] * scale
    else:
        e_basis, e_std = np.zeros((0, v, 3), np.float32), np.zeros(0)
    extra = {}
    if color is not None:
        extra = {"color_mean": color[0], "color_basis": color[1], "color_std": color[2]}
    _check_scale(mean, path, units)
    return MorphableModel(mean=mean, triangles=orient_triangles(mean, cells),
                          identity_basis=shape[1], identity_std=shape[2] * scale,
                          expression_basis=e_basis, expression_std=e_std, expression_kind="pca",
                          name=os.path.basename(path), **extra)


def _unit_scale(units: str, path: str) -> float:
    if units not in UNIT_TO_CM:
        raise DataError(f"{path}: units {units!r} not in {sorted(UNIT_TO_CM)}")
    return UNIT_TO_CM[units]


def load_model(path: str | None = None) -> MorphableModel:
    """By extension: ``.npz`` → ICT, ``.mat`` / ``.h5`` → Basel Face Model; None → the shared ICT file."""
    if path is None or path == "" or path.lower().endswith(".npz"):
        return load_ict(path or None)
    return load_bfm(path)
