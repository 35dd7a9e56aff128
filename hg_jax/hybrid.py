"""Eq. 10 of the paper: the finite-difference half of the hybrid gradient, as a vector-Jacobian product.

    ∂X/∂β ≈ (1/m) Σ_j [f(β+δ_j, r) − f(β−δ_j, r)] / (2‖δ_j‖) ⊗ δ_j/‖δ_j‖

is never built. Only its product with ∂L/∂X is needed, which for direction j is the scalar
s_j = ⟨∂L/∂X, X(β+δ_j) − X(β−δ_j)⟩ summed over every training image, label and mask, so

    g_β = (1/m) Σ_j s_j / (2‖δ_j‖) · δ_j/‖δ_j‖.

With u = δ/‖δ‖ and δ ~ N(0, σ²I) (the paper writes N(0, σI)), E[u uᵀ] = I/d, so the paper's g_β
estimates ∇_β L / d. ``normalisation="unbiased"`` multiplies by d to estimate ∇_β L itself; the
direction is the same, so with RMSprop (scale-free) only the effective step differs.
"""
from __future__ import annotations

import numpy as np

NORMALISATIONS = ("paper", "unbiased")


def directions(key_or_rng, m: int, d: int, sigma: float) -> np.ndarray:
    """m perturbations δ_j ~ N(0, σ²I_d) as host float64, from a numpy Generator or a jax key."""
    if isinstance(key_or_rng, np.random.Generator):
        return sigma * key_or_rng.standard_normal((m, d))
    import jax  # only the engine passes jax keys; host callers pass numpy generators

    return sigma * np.asarray(jax.random.normal(key_or_rng, (m, d)), np.float64)


def inner(dldx: dict, x_plus: dict, x_minus: dict) -> float:
    """⟨∂L/∂X, X⁺ − X⁻⟩ over every key and element, accumulated in float64."""
    total = 0.0
    for k, g in dldx.items():
        diff = np.asarray(x_plus[k], np.float64) - np.asarray(x_minus[k], np.float64)
        total += float(np.vdot(np.asarray(g, np.float64).ravel(), diff.ravel()))
    return total


def estimate(s: np.ndarray, deltas: np.ndarray, normalisation: str = "paper") -> np.ndarray:
    """g_β from the m directional products s_j = ⟨∂L/∂X, X⁺_j − X⁻_j⟩ and their δ_j."""
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"hybrid.normalisation {normalisation!r} not in {NORMALISATIONS}")
    s = np.asarray(s, np.float64)
    deltas = np.asarray(deltas, np.float64)
    norms = np.linalg.norm(deltas, axis=1)
    u = deltas / norms[:, None]
    g = np.mean((s / (2.0 * norms))[:, None] * u, axis=0)
    if normalisation == "unbiased":
        g = g * deltas.shape[1]
    return g


def hybrid_gradient(dldx: dict, render, beta: np.ndarray, seeds: np.ndarray, deltas: np.ndarray,
                    normalisation: str = "paper") -> np.ndarray:
    """Full Eq. 10 given a host ``render(betas, seeds) -> X`` (one β per seed row) and ∂L/∂X.

    The engine itself overlaps the ± renders with network compute (see methods/hybrid.py); this
    sequential form is the reference the tests use.
    """
    s = []
    for delta in deltas:
        s.append(inner(dldx, render(beta + delta, seeds), render(beta - delta, seeds)))
    return estimate(np.array(s), deltas, normalisation)
