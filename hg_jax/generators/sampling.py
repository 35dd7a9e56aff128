"""The sampling numerics every grammar shares: inverse CDFs of fixed uniforms, rotations built from
fixed draws, and random directional lights. numpy + scipy, no jax.

Common random numbers rest on these functions: a generator draws its uniforms and normals from the
seed alone, and β enters only here, as the parameters of an inverse CDF. So each continuous value
must be continuous in its parameters (tests/test_sampling.py checks every one), and each discrete
value (a category, a count) must change only where a threshold crosses its fixed uniform.
"""
from __future__ import annotations

import numpy as np
import trimesh
from scipy import special
from scipy.stats import poisson, truncnorm

from hg_jax.render.scene import Light


# ---- discrete ---------------------------------------------------------------------------------
def categorical_ppf(u, probs) -> np.ndarray:
    """Inverse CDF of a categorical over 0..len(probs)-1 at uniforms ``u`` (any shape). ``probs``
    need not sum to 1. The category changes only where a cumulative weight crosses ``u``."""
    cdf = np.cumsum(np.asarray(probs, np.float64))
    return np.minimum(np.searchsorted(cdf, np.asarray(u) * cdf[-1], side="right"), len(cdf) - 1)


def zero_truncated_poisson_ppf(u, rate: float, cap: int) -> np.ndarray:
    """Inverse CDF of the zero-truncated Poisson(rate) at uniforms ``u``, capped at ``cap``.

    P(N ≤ k | N ≥ 1) < u  ⟺  sf(k) > (1 − u)(1 − e^{−rate}); the survival function keeps the
    comparison accurate for small rates, where the CDF difference would cancel.
    """
    u = np.asarray(u, np.float64)
    k = np.arange(1, cap)
    sf = poisson.sf(k, rate)                                     # P(N > k)
    threshold = (1.0 - u)[..., None] * -np.expm1(-rate)
    return 1 + np.sum(sf > threshold, axis=-1)


# ---- continuous ---------------------------------------------------------------------------------
def truncated_normal_ppf(u, mu, sd, lo, hi) -> np.ndarray:
    """Inverse CDF of N(mu, sd²) truncated to [lo, hi], elementwise (broadcast)."""
    mu, sd = np.asarray(mu, np.float64), np.asarray(sd, np.float64)
    return truncnorm.ppf(u, (lo - mu) / sd, (hi - mu) / sd, loc=mu, scale=sd)


def truncated_mixture_ppf(u_component, u, weights, mu, sd, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """A draw from the mixture Σ_k w_k N(mu_k, sd_k²) truncated (per component) to [lo, hi]:
    component k = categorical_ppf(u_component, weights), value = truncated_normal_ppf(u, mu_k, sd_k).
    Returns (values, components); continuous in mu and sd, and in the weights except where a
    component boundary crosses ``u_component``."""
    k = categorical_ppf(u_component, weights)
    return truncated_normal_ppf(u, np.asarray(mu)[k], np.asarray(sd)[k], lo, hi), k


_GL_X, _GL_W = np.polynomial.legendre.leggauss(64)


def vonmises_pdf(x, kappa):
    x, kappa = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(kappa, np.float64))
    return np.exp(-2.0 * kappa * np.sin(0.5 * x) ** 2) / (2 * np.pi * special.i0e(kappa))


def vonmises_cdf(x, kappa):
    """CDF of the von Mises(0, κ) on [-π, π]: 1/2 + sign(x) ∫_0^|x| pdf, by 64-point
    Gauss-Legendre on [0, min(|x|, 12/√κ)] (beyond 12/√κ the density is < e^-70 of its peak).
    One formula for every κ (scipy switches to a normal approximation at κ = 50, a jump in κ)."""
    x, kappa = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(kappa, np.float64))
    a = np.minimum(np.clip(np.abs(x), 0.0, np.pi), 12.0 / np.sqrt(np.maximum(kappa, 1e-300)))
    t = 0.5 * a[..., None] * (_GL_X + 1.0)
    integral = 0.5 * a * np.sum(_GL_W * vonmises_pdf(t, kappa[..., None]), axis=-1)
    return 0.5 + np.sign(x) * integral


def vonmises_ppf(u, kappa, tol: float = 1e-13, max_iter: int = 60):
    """Inverse CDF of the von Mises(0, κ) on (-π, π): safeguarded Newton (bisection fallback),
    started from the wrapped-normal approximation. Vectorised over u and κ; monotone and smooth
    in both, so mu + vonmises_ppf(u, κ) is continuous in (mu, κ) for a fixed uniform u."""
    u, kappa = np.broadcast_arrays(np.asarray(u, np.float64), np.asarray(kappa, np.float64))
    u = np.clip(u, 1e-15, 1 - 1e-15)
    lo, hi = np.full(u.shape, -np.pi), np.full(u.shape, np.pi)
    ratio = special.i1e(kappa) / np.maximum(special.i0e(kappa), 1e-300)
    sd = np.sqrt(np.maximum(-2.0 * np.log(np.maximum(ratio, 1e-300)), 1e-300))
    x = np.clip(special.ndtri(u) * sd, -np.pi + 1e-9, np.pi - 1e-9)
    for _ in range(max_iter):
        f = vonmises_cdf(x, kappa) - u
        lo = np.where(f < 0, x, lo)
        hi = np.where(f > 0, x, hi)
        if np.all(np.abs(f) < tol):
            break
        p = vonmises_pdf(x, kappa)
        step = np.where(p > 1e-300, f / np.maximum(p, 1e-300), np.inf)
        nx = x - step
        bad = ~((nx > lo) & (nx < hi)) | ~np.isfinite(nx)
        x = np.where(bad, 0.5 * (lo + hi), nx)
    return x


# ---- rotations --------------------------------------------------------------------------------
def rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def yaw_pitch_roll(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R_y(yaw) · R_x(pitch) · R_z(roll), radians: +Y up, so yaw turns about the vertical, pitch
    tilts about the (yawed) x axis and roll about the (yawed, pitched) z axis."""
    return rot_y(yaw) @ rot_x(pitch) @ rot_z(roll)


def axis_angle_rotation(axis_normals: np.ndarray, angle: float) -> np.ndarray:
    """3x3 rotation by ``angle`` about the axis given by three standard normals (uniform direction)."""
    axis = np.asarray(axis_normals, np.float64)
    axis = axis / max(np.linalg.norm(axis), 1e-12)
    return trimesh.transformations.rotation_matrix(angle, axis)[:3, :3]


def uniform_rotation(four_normals: np.ndarray) -> np.ndarray:
    """A uniformly random rotation from four standard normals (a normalised quaternion)."""
    q = np.asarray(four_normals, np.float64)
    q = q / max(np.linalg.norm(q), 1e-12)
    return trimesh.transformations.quaternion_matrix(q)[:3, :3]


# ---- lights -----------------------------------------------------------------------------------
def random_lights(u: np.ndarray, min_lights: int, max_lights: int, cone_deg: float,
                  intensity: float) -> tuple:
    """Directional lights from uniforms ``u`` (max_lights, 3): a count uniform over
    min..max_lights, each light from a direction uniform on the cap of half-angle ``cone_deg``
    around the camera's axis (+z, world frame = camera frame), intensities summing to
    ``intensity``."""
    span = max_lights - min_lights + 1
    n = min_lights + min(int(u[0, 0] * span), span - 1)
    cos_max = np.cos(np.radians(cone_deg))
    lights = []
    for k in range(n):
        cos_t = 1 - u[k, 1] * (1 - cos_max)
        phi = 2 * np.pi * u[k, 2]
        sin_t = np.sqrt(max(1 - cos_t ** 2, 0.0))
        to_light = np.array([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t])
        lights.append(Light(tuple(-to_light), intensity=intensity / n))
    return tuple(lights)
