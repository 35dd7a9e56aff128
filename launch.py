"""Run an experiment: flags only; the work happens in hg_jax.experiment.run.

    python launch.py --config configs/nyu.py --workdir runs/nyu [--config.outer_steps=20 ...]
    python launch.py --config configs/mbii.py:small --workdir runs/mbii_small

An existing workdir resumes from its last checkpoint.
"""
import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

config_flags.DEFINE_config_file("config", None, "configs/<name>.py[:variant]", lock_config=True)
flags.DEFINE_string("workdir", None, "output directory (default: runs/<experiment>)")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint file at INFO
    config = flags.FLAGS.config
    workdir = flags.FLAGS.workdir or os.path.join("runs", config.experiment)
    from hg_jax.experiment import run  # after flag parsing: a bad flag fails before jax loads

    report = run(config, workdir)
    print(f"results in {os.path.abspath(workdir)}: report.json, metrics.jsonl"
          + (", samples.png" if os.path.exists(os.path.join(workdir, "samples.png")) else ""))
    rows = report["rows"]
    for name, r in rows.items():
        test = {k: {m: round(v, 4) for m, v in d.items()} for k, d in r["test"].items()}
        print(f"  {name:>12}: val_loss {r['val_loss']:.4g}  test {test}")
    if "beta_error" in report:
        print(f"  beta_error: start {report['beta_error']['start']:.3f} -> end {report['beta_error']['end']:.3f}")


if __name__ == "__main__":
    flags.mark_flag_as_required("config")
    sys.exit(app.run(main))
