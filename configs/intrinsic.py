"""Intrinsic decomposition (paper §5.4, Table 5): procedural textures → albedo + shading.

    python launch.py --config configs/intrinsic.py --workdir runs/intrinsic          # ~minutes on 2 CPUs
    python launch.py --config configs/intrinsic.py:small --workdir runs/intrinsic_s  # smoke run
    python launch.py --config configs/intrinsic.py:paper --workdir runs/intrinsic_p  # paper scale (GPU)

Rows (each trained for the same number of outer steps; --config.budget_s=S gives every row S wall
seconds instead): hybrid from the default β, a random fixed β and basic random search.
Real data: ../shared/data/mbii and ../shared/data/textured (or --config.data.mbii_root / --config.data.textured_root, a ShapeNet root with textured_layout=shapenet).
"""
from hg_jax.config import ConfigError, base, hourglass_defaults, paper_variant, small_variant
from hg_jax.data.mbii import TEST_OBJECTS as TEST, TRAIN_OBJECTS as TRAIN   # Barron's split


def get_config(variant: str = ""):
    c = hourglass_defaults(base())
    c.experiment = "intrinsic"
    c.outer_steps = 20
    c.eval_every = 10
    c.baselines = ("random_beta", "random_search")
    # val_items / test_items: MBII objects; val_count / test_count: views of the textured scans
    c.data = dict(mbii_root="", textured_root="", textured_layout="auto", size=64,
                  val_items=TRAIN, test_items=TEST, val_count=8, test_count=8, view_seed=0)
    if variant == "small":
        small_variant(c)
        c.data.val_items = TRAIN[:3]
        c.data.test_items = TEST[:3]
        c.data.val_count = 2
        c.data.test_count = 2
    elif variant == "paper":
        paper_variant(c)
        c.inner.learning_rate = 1e-4
        c.data.val_count = 64
        c.data.test_count = 64
    elif variant:
        raise ConfigError(f"configs/intrinsic.py: unknown variant {variant!r} (allowed: '', 'small', 'paper')")
    return c


def get_sweep():
    """σ × β learning rate grid over the default experiment."""
    return [{"hybrid.sigma": s, "beta_opt.learning_rate": lr} for s in (0.05, 0.1, 0.2) for lr in (0.02, 0.05)]
