"""MBII normals (paper §5.1): CSG shapes → Stacked Hourglass → MIT-Berkeley Intrinsic Images.

    python launch.py --config configs/mbii.py --workdir runs/mbii          # default: ~minutes on 2 CPUs
    python launch.py --config configs/mbii.py:small --workdir runs/mbii_s  # smoke run, ~1-2 minutes
    python launch.py --config configs/mbii.py:paper --workdir runs/mbii_p  # paper scale (GPU)

Real data: ../shared/data/mbii (or --config.data.root=/path, or $HG_JAX_DATA/mbii).
"""
from hg_jax.config import base

TRAIN = ("apple", "box", "cup1", "dinosaur", "frog1", "panther", "paper1", "phone", "squirrel", "teabag2")
TEST = ("cup2", "deer", "frog2", "paper2", "pear", "potato", "raccoon", "sun", "teabag1", "turtle")


def get_config(variant: str = ""):
    c = base()
    c.experiment = "mbii"
    c.outer_steps = 30
    c.eval_every = 10
    c.baselines = ("fixed",)
    c.inner.unroll_steps = 4
    c.inner.batch_size = 8
    c.inner.learning_rate = 0.05
    c.inner.optimizer = "adam"
    c.inner.learning_rate = 1e-3
    c.hybrid.num_directions = 4
    c.hybrid.sigma = 0.1
    c.beta_opt.learning_rate = 0.05
    c.render.num_workers = 2
    c.model = dict(num_stacks=2, depth=3, channels=32)
    c.data = dict(root="", size=64, max_depth=2, input="shading.png",
                  val_objects=TRAIN, test_objects=TEST)
    if variant == "small":
        c.outer_steps = 3
        c.eval_every = 3
        c.baselines = ()
        c.hybrid.num_directions = 2
        c.inner.unroll_steps = 2
        c.inner.batch_size = 4
        c.model = dict(num_stacks=1, depth=2, channels=16)
        c.data.size = 32
    elif variant == "paper":
        c.outer_steps = 2000
        c.eval_every = 100
        c.inner.unroll_steps = 8
        c.inner.batch_size = 8
        c.hybrid.num_directions = 8
        c.model = dict(num_stacks=4, depth=4, channels=128)
        c.data.size = 128
        c.data.max_depth = 3
        c.render.num_workers = 8
    elif variant:
        raise ValueError(f"configs/mbii.py: unknown variant {variant!r} (allowed: '', 'small', 'paper')")
    return c


def get_sweep(variant: str = ""):
    """σ × m grid over the default experiment."""
    return [{"hybrid.sigma": s, "hybrid.num_directions": m} for s in (0.05, 0.1, 0.2) for m in (4, 8)]
