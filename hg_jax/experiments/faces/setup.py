"""Face depth (paper §5.3, Table 4): a 3D morphable face model (ICT-FaceKit by default) posed, lit and
rendered by pyrender → depth; real validation / test = re-rendered real face scans.

Sampler: ``RenderedSampler(FaceGenerator(...), target="depth", image=config.data.input, normalize=
config.data.normalize)``; β = Gaussian mixtures over 10 identity + 10 expression coefficients and a
von Mises mixture over head pose (generators/faces.py). ``normalize`` (default True) divides each
image by its robust maximum on the face, as for MBII, so a scan's texture brightness and a synthetic
skin albedo share one scale; the scans are rendered with the same flag.

Task / network: ``DepthTask`` (masked MSE, Eigen metrics) on a Stacked Hourglass with one output
channel and a final ReLU. Depth scale: depth is the distance along the view axis in cm, 51–70 for a
face at the generator's 60 cm camera (mean ~57; synthetic and scan renders alike). The network does
**not** regress that raw number: it predicts depth − ``config.data.depth_offset`` (default 50 cm =
camera distance − 10 cm: targets ~1–20, mean ~7, positive, so a ReLU output starting near 0 is in
range from the first step; the mean face comes nearer than 50 cm only at a pitch near the 60°
clip (48 cm there; 52–53.5 cm at any yaw up to 80°), where the ReLU floors the prediction at 50 cm).
The offset is a constant of the task (``DepthTask.offset``): the data stay absolute, and the loss
(hence β's validation loss L) and every metric (abs_rel, sq_rel, rmse, rmse_log, si_log, δ) are
computed on absolute depth = output + offset, i.e. the standard ones. ``depth_offset = 0`` is the
raw-depth network.

Measured (configs/faces.py:small network, 32 px, method ``fixed`` at β0, 20 outer steps × 4 Adam
steps of 8 samples, lr 1e-3, same seeds; test = the scan's test poses): raw depth (offset 0):
val loss 3000 cm², rmse 54.6 cm, abs_rel 0.96, δ1 0 (the network has barely begun the ~57 cm
constant, which dominates the loss and β's gradient signal); offset 40: val 229, rmse 14.9, abs_rel
0.25, δ1 0.12; offset 50: val 35.5, rmse 5.75, abs_rel 0.080, δ1 0.98. Hence the default 50.

Real data: the scan folder (``config.data.scans_root``; default ``../shared/data/faces/scans`` or
``$HG_JAX_DATA/faces/scans``) re-rendered by ``real_views`` (data/scans.py: 9 poses × 3 lights
per scan, the generator's camera), split by ``scans.split_views``: with several scans, disjoint
scans for validation and test; with one scan (the embedded default), disjoint poses (said in
``Setup.notes``: the test set is then tiny, 5 poses × 3 lights of one person).
"""
from __future__ import annotations

import functools

import numpy as np

from hg_jax.data import scans
from hg_jax.errors import ConfigError
from hg_jax.experiments.base import (Setup, build_network, check_input, check_int, in_channels, renderer_kwargs,
                                     validate_model)
from hg_jax.generators.faces import FaceGenerator
from hg_jax.generators.rendered import RenderedSampler
from hg_jax.samples import draw_samples
from hg_jax.tasks.depth import DepthTask

SAMPLE_POSES = (4, 1, 7, 3, 5, 0)     # re-rendered scan views shown in samples.png (protocol pose ids)


def network_and_task(config):
    d = config.data
    task = DepthTask(in_channels=in_channels(d), offset=float(d.depth_offset))
    return (*build_network(config.model, in_channels(d), 1, final_activation="relu"), task)


def generator(data) -> FaceGenerator:
    """The face generator of ``config.data`` (a ConfigDict or a checkpoint's plain dict): training and
    the scans' re-rendering for evaluation both build it here, so they cannot differ."""
    return FaceGenerator(image_size=int(data["size"]), model_path=data["model_path"] or "",
                         n_identity=int(data["identity"]), n_expression=int(data["expression"]),
                         n_texture=int(data["texture"]),
                         n_components=int(data["components"]), n_pose_components=int(data["pose_components"]))


def real_views(root: str, data) -> dict:
    """Every view of the scans in ``root`` rendered as this experiment's real data (data/scans.py)."""
    return scans.render_for_generator(root, generator(data), image=data["input"], normalize=bool(data["normalize"]))


def validate(config) -> None:
    d = config.data
    validate_model(config)
    check_input(d)
    for f in ("identity", "expression", "texture", "components", "pose_components"):
        check_int(d, f, 1, "an integer >= 1")
    gen = generator(d)
    if not (isinstance(d.depth_offset, (int, float)) and 0 <= d.depth_offset <= gen.camera_distance - 10):
        raise ConfigError(f"config.data.depth_offset = {d.depth_offset!r} is invalid: allowed cm in "
                          f"[0, {gen.camera_distance - 10:g}] (0: raw depth; a face's nearest point is "
                          f"~8-12 cm in front of the {gen.camera_distance:g} cm camera distance)")


def _sample_views(views: dict) -> list[dict]:
    """A few re-rendered scan views for samples.png: frontal-above light, varied poses, first scan."""
    idx = [i for p in SAMPLE_POSES for i in np.nonzero((views["scan"] == 0) & (views["pose"] == p)
                                                       & (views["light"] == 1))[0]]
    return [{k: views[k][i] for k in ("image", "target", "mask")} for i in idx]


def build(config) -> Setup:
    d = config.data
    size = int(d.size)
    root = d.scans_root or scans.default_root()
    sampler = RenderedSampler(generator(d), target="depth", image=d.input, normalize=bool(d.normalize),
                              **renderer_kwargs(config))
    init_fn, apply_fn, task = network_and_task(config)
    views = real_views(root, d)
    val, test = scans.split_views(views, "validation"), scans.split_views(views, "test")
    n_scans = len(np.unique(views["scan"]))
    if n_scans == 1:
        split = (f"one scan ({views['names'][0].split('/yaw')[0]}): validation (β's loss L) and test "
                 f"are disjoint head poses of the same person, validation {len(val['names'])} views "
                 f"(4 poses × 3 lights), test {len(test['names'])} views (5 poses × 3 lights); the test "
                 "set is tiny, one person: read its metrics as a sanity check, not a benchmark")
    else:
        split = (f"{n_scans} scans: validation (β's loss L) and test are disjoint scans, "
                 f"{len(val['names'])} and {len(test['names'])} views (9 poses × 3 lights each)")
    notes = (f"real data: the face scans in {root}, re-rendered (data/scans.py protocol) with the "
             "generator's camera; " + split,
             f"depth in cm; the network predicts depth − {float(d.depth_offset):g} cm; loss and metrics "
             "on absolute depth")
    return Setup(sampler=sampler, task=task, init_fn=init_fn, apply_fn=apply_fn,
                 input_shape=(1, size, size, in_channels(d)), val=val, tests={"scans_test": test},
                 beta0=sampler.default_beta(), notes=notes,
                 draw_samples=functools.partial(draw_samples, extra={"real scans (re-rendered)":
                                                                     _sample_views(views)}))
