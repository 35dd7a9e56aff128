"""Intrinsic decomposition (paper §5.4): procedurally textured shapes rendered by pyrender → albedo
(RGB) + shading (gray). Real validation (β's loss L): MBII train objects (real photos with real
intrinsic ground truth) plus validation views of real textured scans; tests: MBII test objects and
the textured scans' test views, reported separately."""
from __future__ import annotations

import numpy as np

from hg_jax.data import mbii_intrinsic, textured
from hg_jax.errors import ConfigError
from hg_jax.experiments.base import Setup, build_network, check_disjoint, check_int, renderer_kwargs, validate_model
from hg_jax.generators.rendered import RenderedSampler
from hg_jax.generators.textured_shapes import TexturedShapeGenerator
from hg_jax.samples import draw_samples
from hg_jax.tasks.intrinsic import IntrinsicTask


def network_and_task(config):
    return (*build_network(config.model, 3, 4), IntrinsicTask(in_channels=3))


def validate(config) -> None:
    d = config.data
    validate_model(config)
    known = set(mbii_intrinsic.TRAIN_OBJECTS) | set(mbii_intrinsic.TEST_OBJECTS)
    for f in ("val_items", "test_items"):
        bad = sorted(set(d[f]) - known) if d.mbii_root == "" else []
        if bad:
            raise ConfigError(f"config.data.{f} = {tuple(d[f])!r} is invalid: allowed a subset of the "
                              f"MBII objects {sorted(known)}")
    check_disjoint(d, "val_items", "test_items")
    for f in ("val_count", "test_count"):
        check_int(d, f, 0, "an integer >= 0 (0: no textured-scan views)")
    if not len(d.val_items) and d.val_count == 0:
        raise ConfigError("config.data: val_items is empty and val_count is 0: β needs real "
                          "validation data")
    if d.textured_layout not in textured.LAYOUTS:
        raise ConfigError(f"config.data.textured_layout = {d.textured_layout!r}: allowed {textured.LAYOUTS}")


def _concat(sets: list[dict]) -> dict:
    out = {k: np.concatenate([s[k] for s in sets]) for k in ("image", "target", "mask")}
    out["names"] = [n for s in sets for n in s["names"]]
    return out


def build(config) -> Setup:
    d = config.data
    size = int(d.size)
    mbii_root = d.mbii_root or mbii_intrinsic.default_root()
    tex_root = d.textured_root or textured.default_root()
    gen = TexturedShapeGenerator(image_size=size)
    sampler = RenderedSampler(gen, target="intrinsic", image="rgb", normalize=True,
                              **renderer_kwargs(config))
    init_fn, apply_fn, task = network_and_task(config)

    def scans(split, n):
        return textured.load_textured_split(tex_root, split, n_views=n, size=size, seed=int(d.view_seed),
                                            layout=d.textured_layout)

    val_parts, tests = [], {}
    if len(d.val_items):
        val_parts.append(mbii_intrinsic.load_intrinsic_objects(mbii_root, list(d.val_items), size=size))
    if d.val_count:
        val_parts.append(scans("validation", int(d.val_count)))
    if len(d.test_items):
        tests["mbii_test"] = mbii_intrinsic.load_intrinsic_objects(mbii_root, list(d.test_items), size=size)
    if d.test_count:
        tests["textured_test"] = scans("test", int(d.test_count))
    return Setup(sampler=sampler, task=task, init_fn=init_fn, apply_fn=apply_fn,
                 input_shape=(1, size, size, 3), val=_concat(val_parts), tests=tests,
                 beta0=sampler.default_beta(), draw_samples=draw_samples,
                 notes=(f"real validation (β's loss L): MBII {list(d.val_items)} + {d.val_count} views of "
                        f"the textured scans in {tex_root} (validation split); tests, never used for β: "
                        f"MBII {list(d.test_items)} and {d.test_count} test views of the scans",
                        "textured scans: with fewer than 4 objects validation and test render the same "
                        "objects from disjoint random views (data/textured.py)"))
