"""MBII experiment (paper §5.1): CSG shapes rendered by pyrender → surface normals; real val/test =
MIT-Berkeley Intrinsic Images with Barron's split (train objects → L, test objects → report only)."""
from __future__ import annotations

from hg_jax.data import mbii
from hg_jax.errors import ConfigError
from hg_jax.experiments.base import Setup, build_network, check_disjoint, renderer_kwargs, validate_model
from hg_jax.generators.csg import CSGGenerator
from hg_jax.generators.csg_genome import GenomeSpace
from hg_jax.generators.rendered import RenderedSampler
from hg_jax.samples import draw_samples
from hg_jax.tasks.normals import VAL_LOSSES, NormalsTask


def network_and_task(config):
    val_loss = config.data.get("val_loss", "cosine")
    return (*build_network(config.model, 1, 3), NormalsTask(in_channels=1, val_loss_kind=val_loss))


def sampler_of(config) -> RenderedSampler:
    """The CSG grammar (MBII's, and csg_control's) rendered to gray images + normals."""
    gen = CSGGenerator(max_depth=int(config.data.max_depth), image_size=int(config.data.size))
    return RenderedSampler(gen, target="normals", image="gray", normalize=True, **renderer_kwargs(config))


def validate_csg(config) -> None:
    d = config.data
    if not (isinstance(d.max_depth, int) and 0 <= d.max_depth <= 6):
        raise ConfigError(f"config.data.max_depth = {d.max_depth!r} is invalid: allowed 0..6")


def validate(config) -> None:
    """Setup-specific fields, checked before any data is read."""
    d = config.data
    validate_model(config)
    validate_csg(config)
    if d.val_loss not in VAL_LOSSES:
        raise ConfigError(f"config.data.val_loss = {d.val_loss!r} is invalid: allowed {VAL_LOSSES}")
    known = set(mbii.TRAIN_OBJECTS) | set(mbii.TEST_OBJECTS)
    for f in ("val_items", "test_items"):
        bad = sorted(set(d[f]) - known) if d.mbii_root == "" else []
        if bad or not len(d[f]):
            raise ConfigError(f"config.data.{f} = {tuple(d[f])!r} is invalid: allowed a non-empty subset "
                              f"of the MBII objects {sorted(known)}")
    check_disjoint(d, "val_items", "test_items")


def build(config) -> Setup:
    d = config.data
    size = int(d.size)
    root = d.mbii_root or mbii.default_root()
    sampler = sampler_of(config)
    init_fn, apply_fn, task = network_and_task(config)
    val = mbii.load_objects(root, list(d.val_items), input=d.input, size=size)
    test = mbii.load_objects(root, list(d.test_items), input=d.input, size=size)
    return Setup(sampler=sampler, task=task, init_fn=init_fn, apply_fn=apply_fn,
                 input_shape=(1, size, size, 1), val=val, tests={"mbii_test": test},
                 beta0=sampler.default_beta(), draw_samples=draw_samples, genomes=GenomeSpace.of(sampler),
                 notes=(f"real validation (β's loss L): MBII {list(d.val_items)}; "
                        f"test (never used for β or model choice): {list(d.test_items)}",))
