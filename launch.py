"""Run an experiment, or a sweep of it: flags only; the work happens in hg_jax.experiment / hg_jax.sweep.

    python launch.py --config configs/nyu.py --workdir runs/nyu [--config.outer_steps=20 ...]
    python launch.py --config configs/mbii.py:small --workdir runs/mbii_small
    python launch.py --config configs/mbii.py --sweep --launcher slurm --workdir runs/sweep \
        --slurm.partition=gpu --slurm.gpus_per_task=1 --slurm.timeout_min=240

An existing workdir resumes from its last checkpoint. Paths (``--workdir``, ``--config`` and the
config's path fields) may be relative, absolute or start with ``~``. A user error prints one line
(``--verbose``: with its traceback) and exits 2 (hg_jax/cli.py).
"""
import importlib.util
import os

from absl import flags, logging
from ml_collections import config_flags

from hg_jax import cli
from hg_jax.errors import UsageError

config_flags.DEFINE_config_file("config", None, "configs/<name>.py[:variant]", lock_config=True)
flags.DEFINE_string("workdir", None, "output directory (default: runs/<experiment>)")
flags.DEFINE_bool("verbose", False, "show the traceback of a user error too")
flags.DEFINE_bool("sweep", False, "run every point of the config's get_sweep() as a job array")
flags.DEFINE_enum("launcher", "local", ["local", "slurm"], "where sweep jobs run")
flags.DEFINE_string("slurm.partition", None, "SLURM partition")
flags.DEFINE_integer("slurm.gpus_per_task", None, "GPUs per sweep job")
flags.DEFINE_integer("slurm.timeout_min", 240, "minutes before SLURM stops (and submitit requeues) a job")
flags.DEFINE_integer("slurm.cpus_per_task", 4, "CPUs per sweep job (render workers + XLA)")
flags.DEFINE_string("compile_cache", None, "persistent XLA compilation cache directory ('' disables; "
                    "default $HG_JAX_COMPILE_CACHE or ~/.cache/hg_jax/xla)")
FLAGS = flags.FLAGS


def _get_sweep():
    path = config_flags.get_config_filename(FLAGS["config"]).partition(":")[0]
    spec = importlib.util.spec_from_file_location("sweep_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_sweep"):
        raise UsageError(f"no get_sweep() ({path}): allowed --sweep only with a config that defines get_sweep()")
    return module.get_sweep()   # override dicts, applied to the chosen variant's config


def main(argv):
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments {argv[1:]} (launch.py): allowed only --flags")
    logging.set_verbosity(logging.ERROR)  # orbax logs every checkpoint file (INFO) and slow saves (WARNING)
    config = FLAGS.config
    from hg_jax import config as config_lib, experiments

    config_lib.resolve_paths(config)
    workdir = cli.workdir(FLAGS.workdir or os.path.join("runs", config.experiment))
    experiments.validate(config)   # before any data loads or anything compiles
    if FLAGS.sweep:
        from hg_jax import sweep

        slurm = {k: FLAGS[f"slurm.{k}"].value for k in ("partition", "gpus_per_task", "timeout_min",
                                                       "cpus_per_task")}
        jobs = sweep.launch(config, _get_sweep(), workdir, FLAGS.launcher, slurm)
        print(f"submitted {len(jobs)} jobs ({FLAGS.launcher}): {[j.job_id for j in jobs]}")
        if FLAGS.launcher == "local":
            print(sweep.format_table(sweep.summary(workdir)))
        print(f"summary: python -m hg_jax.sweep summary {workdir}")
        return
    from hg_jax.runtime import enable_compile_cache, tune_malloc

    tune_malloc()   # before jax allocates (hg_jax/runtime.py says why)
    enable_compile_cache(FLAGS.compile_cache)  # repeat runs skip the minutes-long meta-gradient compile
    from hg_jax.experiment import run  # after flag parsing: a bad flag fails before jax loads

    report = run(config, workdir)
    print(f"results in {workdir}: report.json, metrics.jsonl"
          + (", samples.png" if os.path.exists(os.path.join(workdir, "samples.png")) else ""))
    for name, r in report["rows"].items():
        test = {k: {m: round(v, 4) for m, v in d.items()} for k, d in r["test"].items()}
        print(f"  {name:>12}: val_loss {r['val_loss']:.4g}  test {test}")
    if "beta_error" in report:
        print(f"  beta_error: start {report['beta_error']['start']:.3f} -> end {report['beta_error']['end']:.3f}")


if __name__ == "__main__":
    flags.mark_flag_as_required("config")
    cli.main(main, absl_flags=True)
