"""Controlled experiments on the real renderer: the "real" images are renders at a hidden β*.

Everything is as in the real experiment it controls — grammar, pyrender workers, hourglass, task,
inner and outer optimisers — except that the validation set (β's loss L) and the test set are
``f(β*, r)`` for fixed seeds instead of photographs, so the distance of β to β* measures whether
a method finds the data that generated the target domain.

- ``csg_control`` (MBII's CSG grammar → normals). β* = β0 except the primitive mixture
  (0.25 each → sphere 0.70, cube / cone / tetrahedron 0.10) and the expansion probability
  (0.6 → 0.3: fewer booleans). ``beta_error`` is the Euclidean distance of the constrained values
  (primitive probabilities, p_expand): what decides which surfaces appear in a normal map. The
  size parameters are left out because every shape is re-framed into the unit sphere before it
  is rendered (sizes are only identified through ratios), and the spreads because 64 images barely
  constrain them.
- ``nyu_control`` (NYU's indoor perturbation grammar → normals). β* = β0 except the camera's
  rotation means: pitch −10° and roll +8° in both mixture components. ``beta_error`` is the
  distance, in degrees, of the mixture-mean camera (pitch, roll) offset Σ_k w_k μ_k from β*'s:
  camera-frame normals rotate with the camera's pitch and roll, so the normal maps identify them;
  yaw only changes which walls are seen, and object offsets of decimetres move a few pixels.

Validation seeds are ``VAL_SEED0 + i`` and test seeds ``TEST_SEED0 + i``: disjoint from each other
and, being ≥ 2³¹, from every training seed (core/bridge.seeds_from_key draws from [0, 2³¹ − 1)).
"""
from __future__ import annotations

import numpy as np

from hg_jax.experiments.base import Setup, check_int, validate_model
from hg_jax.generators.base import stack_samples
from hg_jax.generators.csg_genome import GenomeSpace
from hg_jax.samples import draw_samples

VAL_SEED0 = 2 ** 31
TEST_SEED0 = 2 ** 31 + 1_000_000
EXPERIMENTS = ("csg_control", "nyu_control")


# ---- CSG ----------------------------------------------------------------------------------------
def csg_beta_star(schema, beta0: np.ndarray) -> np.ndarray:
    v = schema.constrained(beta0)
    v["primitive_w"] = np.array([0.70, 0.10, 0.10, 0.10])
    v["p_expand"] = np.array([0.3])
    return schema.unconstrain(v)


def csg_identified(schema, beta) -> np.ndarray:
    v = schema.constrained(np.asarray(beta, np.float64))
    return np.concatenate([v["primitive_w"], v["p_expand"]])


CSG_IDENTIFIED = "primitive probabilities (sphere, cube, cone, tetrahedron) and p_expand"


# ---- NYU ----------------------------------------------------------------------------------------
def _cam_rot(schema, beta) -> tuple[np.ndarray, np.ndarray]:
    v = schema.constrained(np.asarray(beta, np.float64))
    mu = np.asarray(v["cam_rot_mu"]).reshape(-1, 3)          # (K, [yaw, pitch, roll]) radians
    w = np.asarray(v.get("cam_rot_w", np.ones(1)))
    return w, mu


def nyu_beta_star(schema, beta0: np.ndarray) -> np.ndarray:
    beta = np.asarray(beta0, np.float64).copy()
    sl = schema.slices()["cam_rot_mu"]
    mu = beta[sl].reshape(-1, 3)
    mu[:, 1] += np.radians(-10.0)
    mu[:, 2] += np.radians(8.0)
    beta[sl] = mu.ravel()
    return beta


def nyu_identified(schema, beta) -> np.ndarray:
    w, mu = _cam_rot(schema, beta)
    return np.degrees((w[:, None] * mu).sum(0)[1:])              # mixture-mean (pitch, roll), degrees


NYU_IDENTIFIED = "mixture-mean camera pitch and roll offsets Σ_k w_k μ_k (degrees)"


# ---- shared ----------------------------------------------------------------------------------
def base_setup(config):
    """The controlled experiment's sampler, network and task: exactly the real experiment's."""
    if config.experiment == "csg_control":
        from hg_jax.experiments.mbii import setup as mbii

        return mbii.sampler_of(config), mbii.network_and_task(config), csg_beta_star, csg_identified, CSG_IDENTIFIED
    from hg_jax.experiments.nyu import setup as nyu

    return nyu.sampler_of(config), nyu.network_and_task(config), nyu_beta_star, nyu_identified, NYU_IDENTIFIED


def network_and_task(config):
    return base_setup(config)[1]


def validate(config) -> None:
    validate_model(config)
    for f in ("val_count", "test_count"):
        check_int(config.data, f, 1, "an integer >= 1 (renders at β*)")
    if config.experiment == "csg_control":
        from hg_jax.experiments.mbii import setup as mbii

        mbii.validate_csg(config)
    else:
        from hg_jax.experiments.nyu import setup as nyu

        nyu.validate_scenes(config)


def render_set(sampler, beta, seeds) -> dict:
    return stack_samples([sampler(beta, int(s)) for s in seeds])


def build(config) -> Setup:
    sampler, (init_fn, apply_fn, task), star_fn, identified, what = base_setup(config)
    channels = task.in_channels
    schema = sampler.schema
    beta0 = sampler.default_beta()
    beta_star = star_fn(schema, beta0)
    d, size = config.data, int(config.data.size)
    val = render_set(sampler, beta_star, VAL_SEED0 + np.arange(int(d.val_count)))
    test = render_set(sampler, beta_star, TEST_SEED0 + np.arange(int(d.test_count)))
    target = identified(schema, beta_star)

    def beta_error(beta) -> float:
        return float(np.linalg.norm(identified(schema, beta) - target))

    return Setup(sampler=sampler, task=task, init_fn=init_fn, apply_fn=apply_fn,
                 input_shape=(1, size, size, channels), val=val, tests={"beta_star_test": test},
                 beta0=beta0, beta_star=beta_star, beta_error=beta_error, draw_samples=draw_samples,
                 genomes=GenomeSpace.of(sampler) if config.experiment == "csg_control" else None,
                 notes=(f"controlled: validation = {d.val_count} renders at β* (seeds {VAL_SEED0}+i), "
                        f"test = {d.test_count} renders at β* (seeds {TEST_SEED0}+i); beta_error = "
                        f"distance of the {what}",))
