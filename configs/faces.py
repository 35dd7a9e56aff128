"""Face depth (paper §5.3, Table 4): 3D morphable face model → Stacked Hourglass → re-rendered real
face scans.

    python launch.py --config configs/faces.py --workdir runs/faces          # default: ~5 min on 2 CPUs
    python launch.py --config configs/faces.py:small --workdir runs/faces_s  # smoke run, < 2 minutes
    python launch.py --config configs/faces.py:paper --workdir runs/faces_p  # paper scale (GPU)
    python -m hg_jax.evaluate --workdir runs/faces --data ../shared/data/faces/scans --format scans

Rows (Table 4), each the same number of outer steps (so the same K·B·steps network updates) from the
same initial network: hybrid from the default β, a random fixed β (``random_beta``) and basic random
search (``random_search``). Not a wall-clock budget (``budget_s``) on CPU: the first row also pays
the one-off XLA compilation (~1.5–3 min here), which a 75 s budget let hybrid run for one step only;
hybrid and random search cost about the same per step (both render the 2m perturbed batches),
random_beta much less (use ``--config.budget_s`` on a GPU, where compilation is negligible).

Real data: ../shared/data/faces/scans (or --config.data.scans_root=/path, or $HG_JAX_DATA/faces/scans); face model:
../shared/data/faces/ict_face_light.npz (or --config.data.model_path=/path/to/bfm.h5 / .mat).
``data.depth_offset``: the network predicts depth − offset cm (0: raw depth), metrics on absolute
depth (hg_jax/experiments/faces/setup.py).
"""
from hg_jax.config import ConfigError, base, hourglass_defaults, paper_variant, small_variant


def get_config(variant: str = ""):
    c = hourglass_defaults(base())
    c.experiment = "faces"
    c.outer_steps = 10
    c.beta_opt.warmup_steps = 2     # of only 10 outer steps: the hourglass default 6 would leave 4 β updates
    c.eval_every = 5
    c.baselines = ("random_beta", "random_search")
    c.hybrid.num_directions = 2
    c.data = dict(scans_root="", model_path="", size=64, input="gray", normalize=True, depth_offset=50.0,
                  identity=10, expression=10, texture=5, components=2, pose_components=2)
    if variant == "small":
        small_variant(c)
    elif variant == "paper":
        paper_variant(c)
        c.inner.optimizer = "sgd"      # the paper's: SGD, lr 0.1, batch 8
        c.inner.learning_rate = 0.1
    elif variant:
        raise ConfigError(f"configs/faces.py: unknown variant {variant!r} (allowed: '', 'small', 'paper')")
    return c


def get_sweep():
    """σ × β learning rate grid over the default experiment."""
    return [{"hybrid.sigma": s, "beta_opt.learning_rate": lr} for s in (0.05, 0.1, 0.2) for lr in (0.02, 0.05)]
