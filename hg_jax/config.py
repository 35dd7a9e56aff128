"""Shared config fields (``base()``), the variants every experiment offers, and validation of the
shared fields (``validate``; ``hg_jax.experiments.validate`` checks a whole config: these, the
method and the experiment's own fields).

Validation runs before any data is loaded or anything compiled, and every message names the
field and what is allowed. Conventions every experiment's ``config.data`` follows: a dataset's
folder is ``<dataset>_root`` (``mbii_root``, ``rgbd_root``, ``scans_root``, ``textured_root``); the
network input is ``input``; named validation / test members are ``val_items`` / ``test_items``
and counts ``val_count`` / ``test_count``; a mixture's number of components is ``components``.
"""
from __future__ import annotations

import ml_collections

from hg_jax.errors import ConfigError  # noqa: F401  (re-exported for configs and tests)

NORMALISATIONS = ("paper", "unbiased")
# config.data fields that hold paths: resolve_paths makes them absolute once, at the command line
PATH_FIELDS = ("mbii_root", "textured_root", "rgbd_root", "nyu_mat", "nyu_splits", "normals_gt",
               "scans_root", "model_path", "scene_dirs")
INNER_OPTIMIZERS = ("sgd", "momentum", "adam")
RENDER_BACKENDS = ("processes", "ray")


def base() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.experiment = ""            # which experiment builds sampler/task/network/data (hg_jax/experiments/)
    c.method = "hybrid"          # hybrid | fixed | ... (hg_jax.core.estimators registry)
    c.seed = 0
    c.outer_steps = 50
    c.budget_s = 0.0             # stop a row once its wall seconds reach this (0: no limit)
    c.eval_every = 10            # test metrics every N outer steps (and at the end)
    c.checkpoint_every = 5       # outer steps between checkpoints (0: only at the end)
    c.checkpoint_async = True    # orbax finishes each save in the background (~1 s a save here)
    c.precompile = True          # compile the meta-gradient in a background thread from the start
    #                              (core/precompile.py) and train the rows that do not need it first
    c.baselines = ()             # extra rows trained with the same budget: estimators, e.g. ("fixed",),
    #                              or β rows the experiment names (nyu: "original")
    c.beta_init = ()             # optional unconstrained β0 (empty: the setup's default)

    c.inner = ml_collections.ConfigDict()
    c.inner.unroll_steps = 4     # K SGD steps per outer step, unrolled with lax.scan
    c.inner.batch_size = 8       # B samples per SGD step
    c.inner.optimizer = "sgd"    # sgd | momentum | adam (SGD as in the paper)
    c.inner.learning_rate = 0.1
    c.inner.remat = False        # jax.checkpoint on the scan body
    c.inner.devices = 1          # data-parallel over the first N jax devices (0: all of them)

    c.hybrid = ml_collections.ConfigDict()
    c.hybrid.num_directions = 8  # m antithetic directions per outer step
    c.hybrid.sigma = 0.05        # std of δ_j ~ N(0, σ²I) in unconstrained β units
    c.hybrid.normalisation = "paper"  # paper | unbiased (× dim β)

    c.beta_opt = ml_collections.ConfigDict()
    c.beta_opt.learning_rate = 0.05   # RMSprop on β
    c.beta_opt.decay = 0.9
    c.beta_opt.bias_correction = True  # without it the first step is 3.2·lr (core/loop.make_beta_optimizer)
    # outer steps at the start of every row that train the network on f(β0) without moving β: a
    # network a few steps from its random init gives a meaningless ∂L/∂X (benchmarks/meta_signal.py)
    c.beta_opt.warmup_steps = 0
    # heavy-ball momentum on RMSprop's step: averages the noisy per-step estimates over ~1/(1-momentum) steps
    c.beta_opt.momentum = 0.0
    c.beta_opt.schedule = "constant"   # constant | cosine (learning rate decays to 0 over the row's β updates)
    # coordinate: RMSprop's second moment per β coordinate (paper) | shared: one for all of β
    # (core/loop.scale_by_shared_rms: a zero-derivative coordinate no longer moves ~lr a step)
    c.beta_opt.scale = "coordinate"

    c.random_beta = ml_collections.ConfigDict()
    c.random_beta.count = 1      # random_beta trains this many fixed random β (rows random_beta_i if > 1)
    c.random_beta.std = 0.5      # β ~ N(β0, std²I) in unconstrained units (random_beta, random_per_sample)

    c.evolution = ml_collections.ConfigDict()   # Shape Evolution (CSG experiments only)
    c.evolution.population = 8
    c.evolution.leaves = 4           # primitives per shape (CSG tree size)
    c.evolution.candidates = 0       # children scored per step (0: hybrid.num_directions)
    c.evolution.crossover_rate = 0.5
    c.evolution.mutation_rate = 0.5
    c.evolution.reevaluate_every = 1  # re-score the members every N steps (0: never)

    c.render = ml_collections.ConfigDict()
    c.render.backend = "processes"  # processes (this host) | ray (actors, local or a cluster)
    c.render.num_workers = 0     # render worker processes or Ray actors (0: in this process)
    c.render.ray_address = ""    # ray: "" starts a local Ray; "auto" or host:port joins a cluster
    c.render.timeout_s = 120.0
    c.render.max_retries = 2
    c.render.renderer = "pyrender"   # pyrender | mitsuba | a name given to renderers.register_renderer
    c.render.spp = 16            # samples per pixel (mitsuba's path tracer; pyrender ignores it)
    return c


def hourglass_defaults(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """What the rendered experiments (MBII, NYU, faces, intrinsic) share by default: a CPU-sized
    Stacked Hourglass trained with Adam, K = 4 × B = 8 per outer step, m = 4, 2 render workers."""
    c.inner.unroll_steps = 4
    c.inner.batch_size = 8
    c.inner.optimizer = "adam"
    c.inner.learning_rate = 1e-3
    c.hybrid.num_directions = 4
    c.hybrid.sigma = 0.1
    c.beta_opt.learning_rate = 0.05
    c.beta_opt.warmup_steps = 6      # benchmarks/meta_signal.py: ∂L/∂X is meaningless at the random init
    c.render.num_workers = 2
    c.model = dict(num_stacks=2, depth=3, channels=32, norm="group", conv="im2col",
                   scan_stacks=False)   # True: one traced stack (benchmarks/compile.py)
    return c


def indoor_beta_search(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """σ and β's step size for the indoor grammar (configs/nyu.py, configs/nyu_control.py). σ = 0.02: a
    camera rotation of σ = 0.1 rad moves the whole 64² image ~6 px, too far for ⟨∂L/∂X, ΔX⟩ to be
    the first-order change of L it stands for (controlled NYU, one seed: β error 12.8° → 7.4° at
    σ 0.1 vs → 3-4° at σ 0.02); a cosine-decayed step (0.04 → 0) lets β settle instead of
    wandering at ~lr per step once the estimate is mostly noise."""
    c.hybrid.sigma = 0.02
    c.beta_opt.learning_rate = 0.04
    c.beta_opt.schedule = "cosine"
    return c


def small_variant(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``:small``: a smoke run in a few minutes or less (what the end-to-end tests run)."""
    c.outer_steps = 3
    c.eval_every = 3
    c.budget_s = 0.0
    c.baselines = ()
    c.hybrid.num_directions = 2
    c.beta_opt.warmup_steps = min(c.beta_opt.get("warmup_steps", 0), 1)
    c.inner.unroll_steps = 2
    c.inner.batch_size = 4
    c.model = dict(num_stacks=1, depth=2, channels=16, norm="group", conv="im2col", scan_stacks=False)
    c.data.size = 32
    return c


def paper_variant(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``:paper``: the paper's scale (a GPU job): 128² input, 4 stacks × 128 channels, K = 8, m = 8."""
    c.outer_steps = 2000
    c.eval_every = 100
    c.budget_s = 0.0
    c.inner.unroll_steps = 8
    c.inner.batch_size = 8
    c.hybrid.num_directions = 8
    c.model = dict(num_stacks=4, depth=4, channels=128, norm="group", conv="xla", scan_stacks=False)
    c.data.size = 128
    c.render.num_workers = 8
    return c


def resolve_paths(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Expand ``~`` and make every path field of ``c.data`` absolute (relative to the current
    directory), in place: workers, sweeps and report.json then see the path the user meant."""
    from hg_jax.cli import path

    data = c.get("data") or {}
    for f in PATH_FIELDS:
        if f in data and isinstance(data[f], str):
            data[f] = path(data[f])
        elif f in data and isinstance(data[f], (tuple, list)):
            data[f] = type(data[f])(path(p) for p in data[f])
    return c


def _check(cond: bool, field: str, allowed: str, value) -> None:
    if not cond:
        raise ConfigError(f"config.{field} = {value!r} is invalid: allowed {allowed}")


def mitsuba_variant(c: ml_collections.ConfigDict, spp: int = 16) -> ml_collections.ConfigDict:
    """``:mitsuba``: render with Mitsuba 3's path tracer instead of pyrender."""
    c.render.renderer = "mitsuba"
    c.render.spp = spp
    return c


def validate(c: ml_collections.ConfigDict) -> None:
    """Raise ConfigError naming the first invalid shared field (hg_jax.experiments.validate adds the
    method, the baselines and the experiment's own fields)."""
    _check(isinstance(c.experiment, str) and c.experiment != "", "experiment", "an experiment name",
           c.experiment)
    _check(isinstance(c.seed, int) and c.seed >= 0, "seed", "an integer >= 0", c.seed)
    for f in ("outer_steps", "eval_every"):
        _check(isinstance(c[f], int) and c[f] >= 1, f, "an integer >= 1", c[f])
    _check(c.budget_s >= 0, "budget_s", ">= 0 seconds (0: no limit)", c.budget_s)
    _check(isinstance(c.checkpoint_every, int) and c.checkpoint_every >= 0, "checkpoint_every",
           "an integer >= 0", c.checkpoint_every)
    _check(isinstance(c.checkpoint_async, bool), "checkpoint_async", "True or False", c.checkpoint_async)
    _check(isinstance(c.precompile, bool), "precompile", "True or False", c.precompile)
    _check(isinstance(c.inner.unroll_steps, int) and c.inner.unroll_steps >= 1, "inner.unroll_steps",
           "an integer K >= 1", c.inner.unroll_steps)
    _check(isinstance(c.inner.batch_size, int) and c.inner.batch_size >= 1, "inner.batch_size",
           "an integer >= 1", c.inner.batch_size)
    _check(c.inner.optimizer in INNER_OPTIMIZERS, "inner.optimizer", f"one of {INNER_OPTIMIZERS}",
           c.inner.optimizer)
    _check(c.inner.learning_rate > 0, "inner.learning_rate", "> 0", c.inner.learning_rate)
    _check(isinstance(c.hybrid.num_directions, int) and c.hybrid.num_directions >= 1,
           "hybrid.num_directions", "an integer m >= 1", c.hybrid.num_directions)
    _check(c.hybrid.sigma > 0, "hybrid.sigma", "> 0 (std of the perturbations δ)", c.hybrid.sigma)
    _check(c.hybrid.normalisation in NORMALISATIONS, "hybrid.normalisation", f"one of {NORMALISATIONS}",
           c.hybrid.normalisation)
    _check(c.beta_opt.learning_rate > 0, "beta_opt.learning_rate", "> 0", c.beta_opt.learning_rate)
    _check(0 <= c.beta_opt.decay < 1, "beta_opt.decay", "in [0, 1)", c.beta_opt.decay)
    mom = c.beta_opt.get("momentum", 0.0)
    _check(isinstance(mom, (int, float)) and 0 <= mom < 1, "beta_opt.momentum", "in [0, 1) (0: plain RMSprop)", mom)
    _check(c.beta_opt.get("schedule", "constant") in ("constant", "cosine"), "beta_opt.schedule",
           "'constant' or 'cosine'", c.beta_opt.get("schedule"))
    _check(c.beta_opt.get("scale", "coordinate") in ("coordinate", "shared"), "beta_opt.scale",
           "'coordinate' (RMSprop per β coordinate, the paper's) or 'shared' (one scale for all of β)",
           c.beta_opt.get("scale"))
    w = c.beta_opt.get("warmup_steps", 0)
    _check(isinstance(w, int) and 0 <= w < c.outer_steps, "beta_opt.warmup_steps",
           f"an integer in [0, outer_steps = {c.outer_steps}) (outer steps before β first moves)", w)
    _check(isinstance(c.render.num_workers, int) and c.render.num_workers >= 0, "render.num_workers",
           "an integer >= 0", c.render.num_workers)
    _check(c.render.backend in RENDER_BACKENDS, "render.backend", f"one of {RENDER_BACKENDS}",
           c.render.backend)
    if c.render.backend == "ray":
        _check(c.render.num_workers >= 1, "render.num_workers",
               "an integer >= 1 with render.backend = 'ray' (the number of actors)", c.render.num_workers)
    _check(isinstance(c.render.ray_address, str), "render.ray_address",
           "a string: '' (start a local Ray), 'auto' or 'host:port' (join a cluster)", c.render.ray_address)
    _check(isinstance(c.inner.devices, int) and c.inner.devices >= 0, "inner.devices",
           "an integer >= 0 (0: all devices, N: the first N)", c.inner.devices)
    _check(c.render.timeout_s > 0, "render.timeout_s", "> 0 seconds", c.render.timeout_s)
    from hg_jax.render.renderers import available as renderers

    _check(c.render.renderer in renderers(), "render.renderer", f"one of {renderers()}", c.render.renderer)
    _check(isinstance(c.render.spp, int) and c.render.spp >= 1, "render.spp",
           "an integer >= 1 (samples per pixel)", c.render.spp)
    _check(isinstance(c.render.max_retries, int) and c.render.max_retries >= 0, "render.max_retries",
           "an integer >= 0", c.render.max_retries)
    _check(isinstance(c.random_beta.count, int) and c.random_beta.count >= 1, "random_beta.count",
           "an integer >= 1 (fixed random β rows)", c.random_beta.count)
    _check(c.random_beta.std > 0, "random_beta.std", "> 0", c.random_beta.std)
    e = c.evolution
    for f in ("population", "leaves"):
        _check(isinstance(e[f], int) and e[f] >= 1, f"evolution.{f}", "an integer >= 1", e[f])
    for f in ("candidates", "reevaluate_every"):
        _check(isinstance(e[f], int) and e[f] >= 0, f"evolution.{f}", "an integer >= 0", e[f])
    for f in ("crossover_rate", "mutation_rate"):
        _check(0 <= e[f] <= 1, f"evolution.{f}", "a probability in [0, 1]", e[f])


def check_beta_init(c: ml_collections.ConfigDict, schema) -> None:
    if len(c.beta_init) and len(c.beta_init) != schema.size:
        raise ConfigError(f"config.beta_init has length {len(c.beta_init)}: allowed empty (the setup's "
                          f"default) or exactly {schema.size} values for fields {schema.names}")
