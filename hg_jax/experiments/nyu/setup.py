"""NYU experiment (paper §5.2, Table 3): base indoor scenes perturbed by a grammar (objects' and
camera's translations: Gaussian mixtures; rotations: von Mises mixtures) → RGB renders + camera-
space normals → Stacked Hourglass. Real data: NYU Depth V2 frames, only for β's validation loss and
the test metrics.

Real data sources (``config.data.source``):
- ``"embedded"`` (default): the two real frames in ../shared/data/rgbd (one raw NYU Kinect frame,
  one SUN RGB-D frame), normals computed from depth (data/rgbd.py). ``val_items`` / ``test_items``
  name them; by default SUN → validation, NYU → test. A one-frame test set: the report says so.
- ``"rgbd"``: any folder in the rgbd format (``<name>_color.*``, ``<name>_depth.*``, intrinsics
  json) at ``data.rgbd_root``; ``val_items`` / ``test_items`` name frames.
- ``"nyu"``: the labelled NYU Depth V2 set at ``data.nyu_mat`` (``nyu_depth_v2_labeled.mat``) with
  the standard split (``data.nyu_splits``, default splits.mat beside it): ``val_count`` frames of
  the 795 training frames give β's loss, the 654 test frames (or the first ``test_count``) the
  metrics; normals from depth or from a ``normals_gt`` folder (``data.normals_gt``).

Rows: the main method (hybrid, from the default β) and the baselines of the config (default: a
random β and "original": the network trained on the unperturbed base scenes, i.e. β with every
spread at 1 µm / κ = 1e9, offsets below 1e-5 m and 0.01°; ``ROWS`` names it for config.baselines).
"""
from __future__ import annotations

import os

import numpy as np

from hg_jax.data import rgbd
from hg_jax.errors import ConfigError
from hg_jax.experiments.base import (Setup, build_network, check_disjoint, check_input, check_int, in_channels,
                                     renderer_kwargs, validate_model)
from hg_jax.generators.perturb import PerturbedIndoorGenerator
from hg_jax.generators.rendered import RenderedSampler
from hg_jax.samples import draw_samples
from hg_jax.tasks.normals import NormalsTask

SOURCES = ("embedded", "rgbd", "nyu")
EMBEDDED = ("NYU", "SUN")
ROWS = ("original",)


def network_and_task(config):
    c = in_channels(config.data)
    return (*build_network(config.model, c, 3), NormalsTask(in_channels=c))


def generator(config) -> PerturbedIndoorGenerator:
    d = config.data
    scenes = "procedural" if not d.scene_dirs else tuple(d.scene_dirs)
    return PerturbedIndoorGenerator(base_scenes=scenes, num_scenes=int(d.num_scenes),
                                    image_size=int(d.size), components=int(d.components))


def original_beta(gen: PerturbedIndoorGenerator) -> np.ndarray:
    """β whose perturbations are all below 1e-5 m / 0.01°: the unperturbed base scenes."""
    return gen.beta_from(obj_shift_sd=1e-6, obj_rot_kappa=1e9, cam_shift_sd=1e-6, cam_rot_kappa=1e9)


def sampler_of(config) -> RenderedSampler:
    """The perturbed indoor scenes (NYU's, and nyu_control's) rendered to images + normals."""
    return RenderedSampler(generator(config), target="normals", image=config.data.input, normalize=True,
                           **renderer_kwargs(config))


def validate_scenes(config) -> None:
    d = config.data
    check_input(d)
    for f in ("num_scenes", "components"):
        check_int(d, f, 1, "an integer >= 1")
    for f in d.scene_dirs:
        if not os.path.isdir(f):
            raise ConfigError(f"config.data.scene_dirs: {f!r} is not a folder (allowed: folders of meshes "
                              "plus cameras.json, see generators/scene_files.py)")


def validate(config) -> None:
    d = config.data
    validate_model(config)
    validate_scenes(config)
    if d.source not in SOURCES:
        raise ConfigError(f"config.data.source = {d.source!r} is invalid: allowed {SOURCES}")
    if d.source in ("embedded", "rgbd"):
        if d.source == "embedded":
            bad = sorted((set(d.val_items) | set(d.test_items)) - set(EMBEDDED))
            if bad:
                raise ConfigError(f"config.data.val_items / test_items: {bad} are not embedded frames; "
                                  f"allowed {EMBEDDED}")
        if not len(d.val_items) or not len(d.test_items):
            raise ConfigError("config.data.val_items and test_items must both be non-empty")
        check_disjoint(d, "val_items", "test_items")
        if d.source == "rgbd" and not os.path.isdir(d.rgbd_root):
            raise ConfigError(f"config.data.rgbd_root = {d.rgbd_root!r} is not a folder (data.source='rgbd' "
                              "needs <name>_color.*, <name>_depth.*, intrinsics.json there)")
    else:
        if not os.path.isfile(d.nyu_mat):
            raise ConfigError(f"config.data.nyu_mat = {d.nyu_mat!r} is not a file (data.source='nyu' needs "
                              "nyu_depth_v2_labeled.mat from the NYU Depth V2 site)")
        for f in ("val_count", "test_count"):
            check_int(d, f, 0, "an integer >= 0 (0: all)")


def _real_sets(config) -> tuple[dict, dict, tuple]:
    d = config.data
    size, gray = int(d.size), d.input == "gray"
    if d.source == "nyu":
        from hg_jax.data import nyu

        normals = d.normals_gt or "depth"
        kw = dict(size=size, normals=normals, gray=gray)
        splits = nyu.read_splits(d.nyu_splits or os.path.join(os.path.dirname(d.nyu_mat), "splits.mat"))
        val_idx = splits["train"][: d.val_count or None]
        test_idx = splits["test"][: d.test_count or None]
        val = nyu.load_labeled(d.nyu_mat, indices=val_idx, **kw)
        test = nyu.load_labeled(d.nyu_mat, indices=test_idx, **kw)
        note = (f"real data: NYU Depth V2 labelled set {d.nyu_mat}; validation {len(val_idx)} frames of the "
                f"standard training split, test {len(test_idx)} frames of the standard test split; "
                f"normals: {normals}")
        return val, test, (note,)
    if d.source == "rgbd":
        frames = rgbd.load_rgbd_folder(d.rgbd_root, size, names=list(d.val_items) + list(d.test_items),
                                       gray=gray)
        where = d.rgbd_root
    else:
        frames = rgbd.load_embedded(d.rgbd_root or None, size, gray=gray)
        where = d.rgbd_root or rgbd.default_root()

    def pick(names):
        idx = [frames["names"].index(n) for n in names]
        out = {k: frames[k][idx] for k in ("image", "target", "mask")}
        out["names"] = list(names)
        return out

    val, test = pick(d.val_items), pick(d.test_items)
    notes = (f"real data: RGB-D frames in {where}, normals computed from depth (data/rgbd.py); "
             f"validation (β's loss) {list(d.val_items)}, test (never used for β) {list(d.test_items)}",)
    if len(d.test_items) < 10:
        notes += (f"the test set is tiny ({len(d.test_items)} frame(s)): its numbers show that the pipeline "
                  "runs on real data, not a benchmark result; set data.source='nyu' with the labelled "
                  "NYU Depth V2 set for Table 3",)
    return val, test, notes


def build(config) -> Setup:
    sampler = sampler_of(config)
    init_fn, apply_fn, task = network_and_task(config)
    val, test, notes = _real_sets(config)
    c = val["image"].shape[-1]
    return Setup(sampler=sampler, task=task, init_fn=init_fn, apply_fn=apply_fn,
                 input_shape=(1, int(config.data.size), int(config.data.size), c), val=val,
                 tests={"nyu_test": test}, beta0=sampler.default_beta(), draw_samples=_draw,
                 named_betas=(("original", original_beta(sampler.generator)),),
                 notes=notes)


def _draw(path, sampler, betas: dict) -> None:
    """Base scenes (unperturbed) beside the perturbed renders at the initial and final β."""
    draw_samples(path, sampler, {"original (base scenes)": original_beta(sampler.generator), **betas})
