"""NYU normals (paper §5.2, Table 3): perturbed indoor scenes → Stacked Hourglass → real NYU frames.

    python launch.py --config configs/nyu.py --workdir runs/nyu            # default, ~10 min on 2 CPUs
    python launch.py --config configs/nyu.py:small --workdir runs/nyu_s    # smoke run, ~2 min
    python launch.py --config configs/nyu.py:paper --workdir runs/nyu_p    # paper scale (GPU, full NYU)

Rows: hybrid (from the default β), a random fixed β, and "original" (unperturbed base scenes), each
trained for the same number of SGD steps on its own renders (hybrid also renders 2m perturbed
batches per step for its gradient; --config.budget_s=S gives every row S wall seconds instead). Real data: the embedded frames in ../shared/data/rgbd by default;
the full labelled set with --config.data.source=nyu --config.data.nyu_mat=/path/nyu_depth_v2_labeled.mat
(splits.mat beside it; --config.data.normals_gt=/path/normals_gt for Eigen/Ladicky normals), or any
rgbd-format folder with --config.data.source=rgbd --config.data.rgbd_root=DIR.
"""
from hg_jax.config import (ConfigError, base, hourglass_defaults, indoor_beta_search, mitsuba_variant, paper_variant,
                           small_variant)


def get_config(variant: str = ""):
    # ":mitsuba" / ":small_mitsuba": the same experiment path-traced by Mitsuba 3 (render.spp samples)
    mitsuba = variant in ("mitsuba", "small_mitsuba")
    variant = {"mitsuba": "", "small_mitsuba": "small"}.get(variant, variant)
    c = hourglass_defaults(base())
    c.experiment = "nyu"
    c.outer_steps = 30
    c.eval_every = 10
    c.baselines = ("random_beta", "original")
    c.inner.learning_rate = 3e-3       # fixed β, 60 steps: 52.6° at step 40 vs 58.3° with 1e-3
    indoor_beta_search(c)
    c.data = dict(source="embedded", rgbd_root="", nyu_mat="", nyu_splits="", normals_gt="",
                  val_items=("SUN",), test_items=("NYU",), val_count=0, test_count=0,
                  input="rgb", size=64, num_scenes=32, components=2, scene_dirs=())
    if variant == "small":
        small_variant(c)
        c.data.num_scenes = 4
    elif variant == "paper":
        paper_variant(c)
        c.data.num_scenes = 1000
        c.data.source = "nyu"
        c.data.val_count = 100
    elif variant:
        raise ConfigError(f"configs/nyu.py: unknown variant {variant!r} (allowed: '', 'small', 'paper', "
                         "'mitsuba', 'small_mitsuba')")
    if mitsuba:
        mitsuba_variant(c, spp=4 if variant == "small" else 16)
    return c


def get_sweep():
    """σ × number of mixture components over the default experiment."""
    return [{"hybrid.sigma": s, "data.components": k} for s in (0.05, 0.1, 0.2) for k in (1, 2)]
