"""NYU normals (paper §5.2, Table 3): perturbed indoor scenes → Stacked Hourglass → real NYU frames.

    python launch.py --config configs/nyu.py --workdir runs/nyu            # default, ~10 min on 2 CPUs
    python launch.py --config configs/nyu.py:small --workdir runs/nyu_s    # smoke run, ~2 min
    python launch.py --config configs/nyu.py:paper --workdir runs/nyu_p    # paper scale (GPU, full NYU)

Rows: hybrid (from the default β), a random fixed β, and "original" (unperturbed base scenes), each
with the same wall-clock budget. Real data: the embedded frames in ../shared/data/rgbd by default;
the full labelled set with --config.data.source=nyu --config.data.nyu_mat=/path/nyu_depth_v2_labeled.mat
(splits.mat beside it; --config.data.normals_gt=/path/normals_gt for Eigen/Ladicky normals), or any
rgbd-format folder with --config.data.source=rgbd --config.data.rgbd_root=DIR.
"""
from hg_jax.config import base


def get_config(variant: str = ""):
    c = base()
    c.experiment = "nyu"
    c.outer_steps = 40
    c.eval_every = 10
    c.budget_s = 150.0
    c.baselines = ("random_beta",)
    c.inner.unroll_steps = 4
    c.inner.batch_size = 8
    c.inner.optimizer = "adam"
    c.inner.learning_rate = 1e-3
    c.hybrid.num_directions = 4
    c.hybrid.sigma = 0.1
    c.beta_opt.learning_rate = 0.05
    c.render.num_workers = 2
    c.model = dict(num_stacks=2, depth=3, channels=32, norm="group", conv="im2col")
    c.data = dict(source="embedded", rgbd_root="", nyu_mat="", nyu_splits="", normals_gt="",
                  val_frames=("SUN",), test_frames=("NYU",), val_count=0, test_count=0,
                  image="rgb", size=64, num_scenes=32, components=2, scene_dirs=(), original_row=True)
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
        c.data.num_scenes = 4
        c.data.original_row = False
    elif variant == "paper":
        c.outer_steps = 2000
        c.eval_every = 100
        c.budget_s = 0.0
        c.inner.unroll_steps = 8
        c.hybrid.num_directions = 8
        c.model = dict(num_stacks=4, depth=4, channels=128, norm="group", conv="xla")
        c.data.size = 128
        c.data.num_scenes = 1000
        c.data.source = "nyu"
        c.data.val_count = 100
        c.render.num_workers = 8
    elif variant:
        raise ValueError(f"configs/nyu.py: unknown variant {variant!r} (allowed: '', 'small', 'paper')")
    return c


def get_sweep(variant: str = ""):
    """σ × number of mixture components over the default experiment."""
    return [{"hybrid.sigma": s, "data.components": k} for s in (0.05, 0.1, 0.2) for k in (1, 2)]
