"""A differentiable toy generator in pure JAX, with the same f(β, r) interface as the real ones.

Images hold ``num_blobs`` Gaussian blobs. Centres ~ U[-0.8, 0.8]², sizes ~ LogNormal(size_mu,
size_sd), brightnesses ~ LogNormal(bright_mu, bright_sd). The image is Σ b_i·G_i and the target
("height") is Σ s_i·G_i: the network has to infer a blob's size from its image, and how well it can do
that on real data depends on the prior over sizes and brightnesses it was trained on — so β is
identifiable from the validation loss. All randomness comes from the seed (common random numbers) as
standard normals that β reparameterises, so f is smooth in β and ``jax.grad`` of the whole
pipeline exists: tests compare the hybrid estimate with it.
"""
from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from hg_jax.beta import BetaSchema

SCHEMA = BetaSchema.of(
    ("size_mu", 1, "real"),
    ("size_sd", 1, "positive"),
    ("bright_mu", 1, "real"),
    ("bright_sd", 1, "positive"),
)


def toy_sample(beta, seed, *, size: int = 16, num_blobs: int = 3):
    """f(β, r) in JAX: returns image (H,W,1), target (H,W,1), mask (H,W,1)."""
    p = SCHEMA.constrained(beta, xp=jnp)
    z = jax.random.normal(jax.random.PRNGKey(seed), (num_blobs, 5), dtype=jnp.asarray(beta).dtype)
    # Centres are uniform, outside β: a conv net is (nearly) translation equivariant, so a position
    # prior would barely change L and its β components would only random-walk.
    centres = 0.8 * (2.0 * jax.scipy.special.ndtr(z[:, :2]) - 1.0)          # in [-0.8, 0.8]
    sizes = jnp.exp(p["size_mu"] + p["size_sd"] * z[:, 2])
    bright = jnp.exp(p["bright_mu"] + p["bright_sd"] * z[:, 3])
    axis = (jnp.arange(size, dtype=centres.dtype) + 0.5) / size * 2.0 - 1.0
    yy, xx = jnp.meshgrid(axis, axis, indexing="ij")
    d2 = (xx[None] - centres[:, 0, None, None]) ** 2 + (yy[None] - centres[:, 1, None, None]) ** 2
    g = jnp.exp(-0.5 * d2 / sizes[:, None, None] ** 2)
    image = jnp.einsum("n,nhw->hw", bright, g)[..., None]
    target = jnp.einsum("n,nhw->hw", sizes, g)[..., None]
    return {"image": image, "target": target, "mask": jnp.ones_like(image)}


@partial(jax.jit, static_argnames=("size", "num_blobs"))
def toy_batch(beta, seeds, *, size: int = 16, num_blobs: int = 3):
    return jax.vmap(lambda s: toy_sample(beta, s, size=size, num_blobs=num_blobs))(seeds)


@dataclasses.dataclass(frozen=True)
class ToySampler:
    """Host-facing f(β, r): numpy in, numpy out, like a renderer. ``batch`` renders many seeds at once."""

    size: int = 16
    num_blobs: int = 3
    schema: BetaSchema = SCHEMA

    def default_beta(self) -> np.ndarray:
        return SCHEMA.unconstrain({"size_mu": np.log(0.15),
                                   "size_sd": 0.25, "bright_mu": 0.0, "bright_sd": 0.25})

    def batch(self, betas: np.ndarray, seeds: np.ndarray) -> dict:
        betas = np.asarray(betas, np.float32)
        seeds = np.asarray(seeds, np.uint32)
        if betas.ndim == 1:
            betas = np.broadcast_to(betas, (len(seeds), betas.shape[0]))
        out = jax.vmap(lambda b, s: toy_sample(b, s, size=self.size, num_blobs=self.num_blobs))(
            jnp.asarray(betas), jnp.asarray(seeds))
        return {k: np.array(v) for k, v in out.items()}  # writable host copies, like a renderer

    def __call__(self, beta, seed: int) -> dict:
        out = self.batch(np.asarray(beta)[None], np.asarray([seed]))
        return {k: v[0] for k, v in out.items()}
