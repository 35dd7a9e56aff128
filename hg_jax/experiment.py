"""An experiment run: the only module that reads the whole config.

``run(config, workdir)`` validates the config once (hg_jax.experiments.validate), builds the
experiment's setup (sampler, task, network, real data), the render pools, the Trainer and one
estimator per *row* — the configured method first, then each entry of ``config.baselines``, all
from the same initial network and with the same budget of outer steps — trains every row with the
outer loop (core/loop.py) and writes report.json and samples.png.
"""
from __future__ import annotations

import dataclasses
import json
import os

import jax
import numpy as np

from hg_jax import checkpoint, config as config_lib, experiments
from hg_jax.core import loop, precompile, trainer as trainer_lib
from hg_jax.core.bridge import Pools
from hg_jax.core.estimators.base import Context, make


def rows(config, setup, context: Context) -> list[loop.Row]:
    """The run's rows: the method, then the baselines. A baseline is an estimator or a β the
    experiment names (``Setup.named_betas``, trained with β fixed); ``random_beta`` with
    ``random_beta.count`` = N > 1 is N rows ``random_beta_i`` (draws 0..N−1)."""
    named = dict(setup.named_betas)
    out = []
    for name in [config.method] + [b for b in config.baselines if b != config.method]:
        if name in named:
            out.append(loop.Row(name, make("fixed", config, context), np.asarray(named[name], np.float64)))
        elif name == "random_beta" and config.random_beta.count > 1:
            out += [loop.Row(f"random_beta_{i}", make(name, config, context, draw=i), setup.beta0)
                    for i in range(config.random_beta.count)]
        else:
            out.append(loop.Row(name, make(name, config, context), setup.beta0))
    return out


def rank_random_betas(report_rows: dict) -> dict | None:
    """Best / median / worst of the random_beta_i rows by validation loss only (Table 1)."""
    names = sorted((n for n in report_rows if n.startswith("random_beta_")),
                   key=lambda n: report_rows[n]["val_loss"])
    if not names:
        return None
    pick = {"best": names[0], "median": names[len(names) // 2], "worst": names[-1]}
    return {label: {"row": n, "val_loss": report_rows[n]["val_loss"], "test": report_rows[n]["test"]}
            for label, n in pick.items()} | {"count": len(names)}


def beta_error_of(setup):
    """β -> distance to β* (controlled setups), or None."""
    if setup.beta_star is None:
        return None
    if setup.beta_error is not None:
        return lambda beta: setup.beta_error(np.asarray(beta, np.float64))
    return lambda beta: float(np.linalg.norm(beta - setup.beta_star))


def run(config, workdir: str, setup=None) -> dict:
    """Run the experiment described by ``config`` in ``workdir``; returns (and writes) report.json.

    ``setup``: an already built setup of this config (callers running many rows of one experiment,
    e.g. benchmarks/compare.py and hg_jax.retrain, build it once)."""
    experiments.validate(config)
    from hg_jax.core import sharding

    mesh = sharding.make_mesh(config.inner.devices)
    sharding.check_batch_size(mesh, config.inner.batch_size)
    os.makedirs(workdir, exist_ok=True)
    setup = setup if setup is not None else experiments.build(config)
    config_lib.check_beta_init(config, setup.sampler.schema)
    if len(config.beta_init):
        setup = dataclasses.replace(setup, beta0=np.asarray(config.beta_init, np.float64))
    schema = setup.sampler.schema
    schema.check(setup.beta0, "setup.beta0")

    samplers = {"beta": setup.sampler} | ({"genome": setup.genomes.sampler} if setup.genomes is not None else {})
    r = config.render
    with Pools(samplers, r.num_workers, r.timeout_s, r.max_retries, r.backend, r.ray_address) as pools:
        pools.get("beta")        # the workers start while the network compiles
        trainer = trainer_lib.from_config(config, setup, mesh)
        context = Context(schema=schema, batch_shape=trainer.batch_shape, genomes=setup.genomes)
        the_rows = rows(config, setup, context)
        key = jax.random.PRNGKey(config.seed)
        # every row starts from this network; made before the background compile starts, since both
        # are Python-bound and would only take turns at the GIL
        network = loop.initial_network(trainer, key, setup.input_shape)
        # a row resumed after its last step only re-evaluates: compiling for it would be wasted
        late = [bool(config.precompile) and getattr(r.estimator, "uses_meta_grad", False)
                and (checkpoint.latest_step(os.path.join(workdir, "checkpoints", r.name)) or 0) < config.outer_steps
                for r in the_rows]
        if any(late):
            trainer = dataclasses.replace(trainer, meta_grad=precompile.ahead(
                trainer.meta_grad, precompile.abstract_outer_args(trainer, setup.input_shape), "meta_grad"))
        the_run = loop.Run(settings=loop.Settings.from_config(config), trainer=trainer, pools=pools,
                           beta_optimizer=loop.make_beta_optimizer(config.beta_opt, loop.beta_updates(config)), schema=schema,
                           input_shape=setup.input_shape, tests=setup.tests, workdir=workdir,
                           key=key, beta_error=beta_error_of(setup), network=network)
        try:
            # rows are independent (same initial network, β0 and keys); the ones that never call the
            # meta-gradient train while it compiles, the report keeps the configured order
            order = sorted(range(len(the_rows)), key=lambda i: late[i])
            trained = {the_rows[i].name: loop.train_row(the_run, the_rows[i]) for i in order}
        finally:
            if isinstance(trainer.meta_grad, precompile.Ahead):
                trainer.meta_grad.wait()   # never leave XLA compiling while the interpreter exits
        report_rows = {row.name: trained[row.name] for row in the_rows}
        pool_stats = dict(pools.stats)

    main = report_rows[next(iter(report_rows))]
    report = {"config": json.loads(config.to_json_best_effort()), "method": config.method,
              "experiment": config.experiment, "beta": main["beta"], "beta_named": main["beta_named"],
              "metrics": main["test"], "timings": main["timings"], "rows": report_rows,
              "notes": list(setup.notes), "workdir": os.path.abspath(workdir), "pool_stats": pool_stats}
    if isinstance(trainer.meta_grad, precompile.Ahead):
        a = trainer.meta_grad
        report["precompile"] = {"function": a.name, "compile_s": a.compile_s, "waited_s": a.waited_s,
                                "first_call_work": a.first_call_work,
                                "error": None if a.error is None else repr(a.error)}
    ranked = rank_random_betas(report_rows)
    if ranked is not None:
        report["random_beta"] = ranked
    if setup.beta_star is not None:
        report["beta_star"] = setup.beta_star.tolist()
        report["beta_error"] = main["beta_error"]
    with open(os.path.join(workdir, "report.json.tmp"), "w") as f:
        json.dump(report, f, indent=1)
    os.replace(os.path.join(workdir, "report.json.tmp"), os.path.join(workdir, "report.json"))
    if setup.draw_samples is not None:
        betas = {"initial beta": setup.beta0, "final beta": np.asarray(main["beta"])}
        if setup.beta_star is not None:
            betas["true beta"] = setup.beta_star
        setup.draw_samples(os.path.join(workdir, "samples.png"), setup.sampler, betas)
    return report
