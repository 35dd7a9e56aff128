"""Intrinsic decomposition (paper §5.4, Table 5): procedural textures → albedo + shading.

    python launch.py --config configs/intrinsic.py --workdir runs/intrinsic          # ~minutes on 2 CPUs
    python launch.py --config configs/intrinsic.py:small --workdir runs/intrinsic_s  # smoke run
    python launch.py --config configs/intrinsic.py:paper --workdir runs/intrinsic_p  # paper scale (GPU)

Rows (each with the same wall-clock budget): hybrid from the default β, a random fixed β and basic
random search. Real data: ../shared/data/mbii and ../shared/data/textured (or
--config.data.mbii_root / --config.data.textured_root, a ShapeNet root with textured_layout=shapenet).
"""
from hg_jax.config import base

TRAIN = ("apple", "box", "cup1", "dinosaur", "frog1", "panther", "paper1", "phone", "squirrel", "teabag2")
TEST = ("cup2", "deer", "frog2", "paper2", "pear", "potato", "raccoon", "sun", "teabag1", "turtle")


def get_config(variant: str = ""):
    c = base()
    c.experiment = "intrinsic"
    c.outer_steps = 40
    c.eval_every = 10
    c.budget_s = 100.0
    c.baselines = ("random_beta", "random_search")
    c.inner.unroll_steps = 4
    c.inner.batch_size = 8
    c.inner.optimizer = "adam"
    c.inner.learning_rate = 1e-3
    c.hybrid.num_directions = 4
    c.hybrid.sigma = 0.1
    c.beta_opt.learning_rate = 0.05
    c.render.num_workers = 2
    c.model = dict(num_stacks=2, depth=3, channels=32, norm="group", conv="im2col")
    c.data = dict(mbii_root="", textured_root="", textured_layout="auto", size=64,
                  val_objects=TRAIN, test_objects=TEST, val_views=8, test_views=8, view_seed=0)
    if variant == "small":
        c.outer_steps = 3
        c.eval_every = 3
        c.budget_s = 0.0
        c.baselines = ()
        c.hybrid.num_directions = 2
        c.inner.unroll_steps = 2
        c.inner.batch_size = 4
        c.model = dict(num_stacks=1, depth=2, channels=16, norm="group", conv="im2col")
        c.data.size = 32
        c.data.val_objects = TRAIN[:3]
        c.data.test_objects = TEST[:3]
        c.data.val_views = 2
        c.data.test_views = 2
    elif variant == "paper":
        c.outer_steps = 2000
        c.eval_every = 100
        c.budget_s = 0.0
        c.inner.unroll_steps = 8
        c.inner.learning_rate = 1e-4
        c.hybrid.num_directions = 8
        c.model = dict(num_stacks=4, depth=4, channels=128, norm="group", conv="xla")
        c.data.size = 128
        c.data.val_views = 64
        c.data.test_views = 64
        c.render.num_workers = 8
    elif variant:
        raise ValueError(f"configs/intrinsic.py: unknown variant {variant!r} (allowed: '', 'small', 'paper')")
    return c


def get_sweep(variant: str = ""):
    """σ × β learning rate grid over the default experiment."""
    return [{"hybrid.sigma": s, "beta_opt.learning_rate": lr} for s in (0.05, 0.1, 0.2) for lr in (0.02, 0.05)]
