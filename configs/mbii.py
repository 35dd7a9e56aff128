"""MBII normals (paper §5.1): CSG shapes → Stacked Hourglass → MIT-Berkeley Intrinsic Images.

    python launch.py --config configs/mbii.py --workdir runs/mbii          # default: ~7 min on 2 CPUs
    python launch.py --config configs/mbii.py:small --workdir runs/mbii_s  # smoke run, ~1-2 minutes
    python launch.py --config configs/mbii.py:paper --workdir runs/mbii_p  # paper scale (GPU)

Real data: ../shared/data/mbii (or --config.data.mbii_root=/path, or $HG_JAX_DATA/mbii).
"""
from hg_jax.config import ConfigError, base, hourglass_defaults, mitsuba_variant, paper_variant, small_variant
from hg_jax.data.mbii import TEST_OBJECTS as TEST, TRAIN_OBJECTS as TRAIN   # Barron's split


def get_config(variant: str = ""):
    # ":mitsuba" / ":small_mitsuba": the same experiment path-traced by Mitsuba 3 (render.spp samples)
    mitsuba = variant in ("mitsuba", "small_mitsuba")
    variant = {"mitsuba": "", "small_mitsuba": "small"}.get(variant, variant)
    c = hourglass_defaults(base())
    c.experiment = "mbii"
    c.outer_steps = 30
    c.eval_every = 10
    c.baselines = ("fixed",)
    # val_loss: β's L, "cosine" (the training loss) or "angle" (mean angle error, paper §5.1)
    c.data = dict(mbii_root="", size=64, max_depth=2, input="shading.png",
                  val_items=TRAIN, test_items=TEST, val_loss="cosine")
    if variant == "small":
        small_variant(c)
    elif variant == "paper":
        paper_variant(c)
        c.data.max_depth = 3
    elif variant:
        raise ConfigError(f"configs/mbii.py: unknown variant {variant!r} (allowed: '', 'small', 'paper', "
                         "'mitsuba', 'small_mitsuba')")
    if mitsuba:
        mitsuba_variant(c, spp=4 if variant == "small" else 16)
    return c


def get_sweep():
    """σ × m grid over the default experiment."""
    return [{"hybrid.sigma": s, "hybrid.num_directions": m} for s in (0.05, 0.1, 0.2) for m in (4, 8)]
