"""The face grammar's albedo (texture) space: per-vertex skin colour as a linear model in
coefficients, the same form as a 3DMM's shape, so β can hold mixtures over the coefficients.
numpy only, no jax.

    colour_srgb(c) = clip(mean + Σ_i c[i] · std[i] · basis[i], 0, 1),   albedo = sRGB → linear

- A model with a colour PCA (Basel: ``texMU`` / ``texPC`` / ``texEV``, or the .h5 ``color`` model)
  uses it as is: its mean, components and standard deviations (``MorphableModel.color_*``), its
  values read as sRGB in [0, 1], so coefficients are ~ N(0, 1) under the model's prior.
- ICT-FaceKit has no colour model, so it gets a small hand-made space (``ICT_MODES``; not fitted to
  data). Global modes: ``tone`` (from a dark to a light skin tone: std 1/√12 makes N(0, 1) as
  spread as a uniform draw between the two) and ``warmth`` (red–yellow vs blue). Regional modes, each
  a colour change times a smooth weight around landmark-defined centres of the neutral mesh
  (a Gaussian falloff with per-axis radii in cm): ``lips`` (redder and darker), ``cheeks`` (blush),
  ``brows`` (darker). The mean already holds the typical lips and brows; the modes vary them.
  Without landmarks only the global modes exist.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from hg_jax.colour import srgb_to_linear
from hg_jax.data.face_model import MorphableModel

SKIN_DARK_SRGB = np.array([0.36, 0.24, 0.18])
SKIN_LIGHT_SRGB = np.array([0.96, 0.80, 0.70])
ICT_MODES = ("tone", "warmth", "lips", "cheeks", "brows")

# sRGB change of a regional mode at full weight, and the part of it the mean holds
_REGION_COLOUR = {"lips": np.array([0.10, -0.10, -0.08]), "cheeks": np.array([0.07, -0.03, -0.02]),
                  "brows": np.array([-0.30, -0.28, -0.25])}
_REGION_IN_MEAN = {"lips": 1.0, "cheeks": 0.0, "brows": 1.0}
_REGION_RADII_CM = {"lips": (2.4, 0.9, 2.0), "cheeks": (1.8, 1.8, 2.5), "brows": (1.4, 0.6, 1.5)}


@dataclasses.dataclass(frozen=True, eq=False)
class AlbedoSpace:
    mean: np.ndarray        # (V, 3) sRGB
    basis: np.ndarray       # (N, V, 3) sRGB change per unit of a mode (times std)
    std: np.ndarray         # (N,)
    names: tuple            # (N,)

    @property
    def n_modes(self) -> int:
        return len(self.std)

    def srgb(self, coeffs) -> np.ndarray:
        """(V, 3) sRGB in [0, 1] for the first len(coeffs) modes (the rest at 0)."""
        c = np.asarray(coeffs, np.float64).ravel()
        if len(c) > self.n_modes:
            raise ValueError(f"{len(c)} albedo coefficients for a space with {self.n_modes} modes")
        out = self.mean.astype(np.float64)
        if len(c):
            out = out + np.tensordot(c * self.std[:len(c)], self.basis[:len(c)], axes=1)
        return np.clip(out, 0.0, 1.0)

    def linear(self, coeffs) -> np.ndarray:
        """(V, 3) linear RGB albedo, what the renderer takes."""
        return srgb_to_linear(self.srgb(coeffs))


def _region_weight(vertices: np.ndarray, centres, radii) -> np.ndarray:
    r = np.asarray(radii, np.float64)
    w = sum(np.exp(-0.5 * np.sum(((vertices - np.asarray(c)) / r) ** 2, axis=1)) for c in centres)
    return np.minimum(w, 1.0)


def ict_space(model: MorphableModel) -> AlbedoSpace:
    """The hand-made space of the module doc, on ``model``'s neutral mesh."""
    v = np.asarray(model.mean, np.float64)
    n = len(v)
    mid = 0.5 * (SKIN_DARK_SRGB + SKIN_LIGHT_SRGB)
    mean = np.tile(mid, (n, 1))
    basis = [np.tile(SKIN_LIGHT_SRGB - SKIN_DARK_SRGB, (n, 1)), np.tile([0.04, 0.0, -0.04], (n, 1))]
    std = [1.0 / np.sqrt(12.0), 1.0]
    names = ["tone", "warmth"]
    anchors = model.anchors()
    lm = model.landmark_points()
    if anchors is not None:
        centres = {"lips": [anchors["mouth"]],
                   # midway between the jaw line at cheekbone height and the nostrils
                   "cheeks": [0.5 * (lm[2] + lm[31]), 0.5 * (lm[14] + lm[35])],
                   "brows": [anchors["brow_right"], anchors["brow_left"]]}
        for name in ("lips", "cheeks", "brows"):
            w = _region_weight(v, centres[name], _REGION_RADII_CM[name])[:, None]
            change = w * _REGION_COLOUR[name]
            mean = mean + _REGION_IN_MEAN[name] * change
            basis.append(change)
            std.append(0.5)
            names.append(name)
    return AlbedoSpace(mean=mean, basis=np.stack(basis).astype(np.float64), std=np.asarray(std),
                       names=tuple(names))


def albedo_space(model: MorphableModel) -> AlbedoSpace:
    """The model's own colour PCA when it has one, else the ICT space."""
    if model.color_mean is not None and model.color_basis is not None and len(model.color_std):
        return AlbedoSpace(mean=np.asarray(model.color_mean, np.float64), basis=model.color_basis,
                           std=np.asarray(model.color_std, np.float64),
                           names=tuple(f"pc{i}" for i in range(len(model.color_std))))
    return ict_space(model)
