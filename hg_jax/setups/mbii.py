"""MBII experiment (paper §5.1): CSG shapes rendered by pyrender → surface normals; real val/test =
MIT-Berkeley Intrinsic Images with Barron's split (train objects → L, test objects → report only)."""
from __future__ import annotations

import numpy as np

from hg_jax.data import mbii
from hg_jax.generators.csg import CSGGenerator
from hg_jax.config import renderer_kwargs
from hg_jax.generators.rendered import RenderedSampler
from hg_jax.models.hourglass import make_model
from hg_jax.samples import draw_samples
from hg_jax.setups.base import Setup, check_disjoint
from hg_jax.tasks.normals import VAL_LOSSES, NormalsTask


def build_network(m, in_channels: int, out_channels: int, final_activation: str = "none"):
    """The Stacked Hourglass of ``config.model`` (norm / conv / block optional: older configs and
    checkpoints' configs lack them)."""
    return make_model(num_stacks=int(m.num_stacks), depth=int(m.depth), channels=int(m.channels),
                      in_channels=in_channels, out_channels=out_channels, final_activation=final_activation,
                      norm=m.get("norm", "group"), conv=m.get("conv", "im2col"),
                      block=m.get("block", "bottleneck"))


def network_and_task(config):
    val_loss = config.data.get("val_loss", "cosine")
    return (*build_network(config.model, 1, 3), NormalsTask(in_channels=1, val_loss_kind=val_loss))


def validate_model(config) -> None:
    """config.model and config.data.size, for every hourglass experiment."""
    from hg_jax.config import ConfigError
    from hg_jax.models import hourglass

    d, m = config.data, config.model
    for f in ("num_stacks", "depth", "channels"):
        if not (isinstance(m[f], int) and m[f] >= 1):
            raise ConfigError(f"config.model.{f} = {m[f]!r} is invalid: allowed an integer >= 1")
    levels = 2 ** (int(m.depth) + 1)
    if not (isinstance(d.size, int) and d.size >= levels and d.size % levels == 0):
        raise ConfigError(f"config.data.size = {d.size!r} is invalid: allowed a multiple of "
                          f"2^(model.depth+1) = {levels}")
    for f, allowed in (("norm", hourglass.NORMS), ("conv", hourglass.CONVS), ("block", hourglass.BLOCKS)):
        if f in m and m[f] not in allowed:
            raise ConfigError(f"config.model.{f} = {m[f]!r} is invalid: allowed {allowed}")


def validate(config) -> None:
    """Setup-specific fields, checked before any data is read."""
    from hg_jax.config import ConfigError

    d = config.data
    validate_model(config)
    if not (isinstance(d.max_depth, int) and 0 <= d.max_depth <= 6):
        raise ConfigError(f"config.data.max_depth = {d.max_depth!r} is invalid: allowed 0..6")
    if d.get("val_loss", "cosine") not in VAL_LOSSES:
        raise ConfigError(f"config.data.val_loss = {d.val_loss!r} is invalid: allowed {VAL_LOSSES}")
    known = set(mbii.TRAIN_OBJECTS) | set(mbii.TEST_OBJECTS)
    for f in ("val_objects", "test_objects"):
        bad = sorted(set(d[f]) - known) if d.root == "" else []
        if bad or not len(d[f]):
            raise ConfigError(f"config.data.{f} = {tuple(d[f])!r} is invalid: allowed a non-empty subset "
                              f"of the MBII objects {sorted(known)}")
    check_disjoint(d, "val_objects", "test_objects")


def build(config) -> Setup:
    validate(config)
    d = config.data
    size = int(d.size)
    root = d.root or mbii.default_root()
    gen = CSGGenerator(max_depth=int(d.max_depth), image_size=size)
    sampler = RenderedSampler(gen, target="normals", image="gray", normalize=True,
                              **renderer_kwargs(config))
    init_fn, apply_fn, task = network_and_task(config)
    val = mbii.load_objects(root, list(d.val_objects), input=d.input, size=size)
    test = mbii.load_objects(root, list(d.test_objects), input=d.input, size=size)
    return Setup(sampler=sampler, task=task, init_fn=init_fn, apply_fn=apply_fn,
                 input_shape=(1, size, size, 1), val=val, tests={"mbii_test": test},
                 beta0=sampler.default_beta(), draw_samples=draw_samples,
                 notes=(f"real validation (β's loss L): MBII {list(d.val_objects)}; "
                        f"test (never used for β or model choice): {list(d.test_objects)}",))
