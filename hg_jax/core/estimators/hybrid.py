"""Hybrid gradient (the paper's method), Eq. 10 whole: ∂L/∂X by reverse mode through the K unrolled
training steps, times a finite-difference estimate of ∂X/∂β that is never materialised:

    ∂X/∂β ≈ (1/m) Σ_j [f(β+δ_j, r) − f(β−δ_j, r)] / (2‖δ_j‖) ⊗ δ_j/‖δ_j‖

Only its product with ∂L/∂X is needed, which for direction j is the scalar
s_j = ⟨∂L/∂X, X(β+δ_j) − X(β−δ_j)⟩ summed over every training image, label and mask, so

    g_β = (1/m) Σ_j s_j / (2‖δ_j‖) · δ_j/‖δ_j‖.

With u = δ/‖δ‖ and δ ~ N(0, σ²I) (the paper writes N(0, σI)), E[u uᵀ] = I/d, so the paper's g_β
estimates ∇_β L / d. ``normalisation="unbiased"`` multiplies by d to estimate ∇_β L itself; the
direction is the same, so with RMSprop (scale-free) only the effective step differs.

``ask`` requests f(β, r) for training and f(β ± δ_j, r) for every direction, all with the step's
seeds r (common random numbers); the ± renders do not depend on the network, so they render while
``tell`` runs the meta-gradient on f(β, r).
"""
from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np

from hg_jax.core.estimators.base import Context, RenderRequest, register, seeds_for, step_keys

NORMALISATIONS = ("paper", "unbiased")


def directions(key, m: int, d: int, sigma: float) -> np.ndarray:
    """m perturbations δ_j ~ N(0, σ²I_d) as host float64, from a jax key."""
    return sigma * np.asarray(jax.random.normal(key, (m, d)), np.float64)


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


@dataclasses.dataclass(frozen=True)
class PerturbHyper:
    """m antithetic directions δ_j ~ N(0, σ²I) per step (config.hybrid, shared by the gradient
    estimators so that they compare at the same σ, m and seeds)."""
    num_directions: int = 8
    sigma: float = 0.05

    @classmethod
    def from_config(cls, config):
        return cls(num_directions=int(config.hybrid.num_directions), sigma=float(config.hybrid.sigma))


def perturbed_request(beta, key, ctx: Context, hp: PerturbHyper, signs=(1, -1)) -> RenderRequest:
    """f(β, r) for training and f(β + s·δ_j, r) for every direction j and sign s (probes in the
    order δ_0 signs..., δ_1 signs...), with the step's seeds; ``payload`` holds the δ_j."""
    k_seed, k_dir = step_keys(key, 2)
    deltas = directions(k_dir, hp.num_directions, ctx.schema.size, hp.sigma)
    beta = np.asarray(beta, np.float64)
    probes = tuple(beta + s * d for d in deltas for s in signs)
    return RenderRequest(seeds=seeds_for(k_seed, ctx.batch_shape), train=beta, probes=probes,
                         payload=deltas)


@register("hybrid")
@dataclasses.dataclass(frozen=True)
class Hybrid:
    @dataclasses.dataclass(frozen=True)
    class Hyper(PerturbHyper):
        normalisation: str = "paper"

        @classmethod
        def from_config(cls, config):
            return cls(num_directions=int(config.hybrid.num_directions), sigma=float(config.hybrid.sigma),
                       normalisation=str(config.hybrid.normalisation))

    hp: Hyper
    ctx: Context
    updates_beta = True
    uses_meta_grad = True

    def init(self, state, key):
        return state

    def ask(self, state, key) -> RenderRequest:
        return perturbed_request(state.beta, key, self.ctx, self.hp)

    def tell(self, state, renders, trainer):
        X = renders.train.result()
        t = time.perf_counter()
        L, dX, params, opt_state, losses = trainer.meta_grad(
            state.params, state.inner_opt_state, X, trainer.val_batch)
        dX = jax.device_get(dX)
        compute_s = time.perf_counter() - t
        probes = renders.probes
        s = np.array([inner(dX, probes[2 * j].result(), probes[2 * j + 1].result())
                      for j in range(len(probes) // 2)])
        g = estimate(s, renders.request.payload, self.hp.normalisation)
        state = state.replace(params=params, inner_opt_state=opt_state)
        return state, g, {"val_loss": float(L), "train_loss": float(np.mean(losses)),
                          "compute_s": compute_s, "trainings": 1}
