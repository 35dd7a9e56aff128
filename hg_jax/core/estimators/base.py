"""The interface every way of choosing β implements (ask/tell, as in evosax), and its registry.

An estimator is a frozen object built once per row from its hyperparameters (a frozen dataclass
read from the config by ``Hyper.from_config``) and the row's ``Context``:

- ``init(state, key) -> state``: what the row starts from (e.g. a random β, a population).
- ``ask(state, key) -> RenderRequest``: what to render this step. ``key`` is the step's key,
  ``fold_in(run key, step)``; every random choice of the step comes from it.
- ``tell(state, renders, trainer) -> (state, beta_grad, aux)``: given the submitted renders
  (``renders.train`` / ``renders.probes``, pending until ``.result()``) and the Trainer, train the
  network, and return the new state (weights, inner optimizer state, ``method_state``; a new β if
  the estimator sets β itself), a β gradient for the loop's β optimizer or None, and ``aux``:
  metrics, at least ``val_loss``, ``compute_s`` (seconds blocked on network compute) and
  ``trainings`` (K-step trainings run, for the SGD-step count).

The outer loop (core/loop.py) owns the render pools and the β optimizer; an estimator never sees
either, and nothing below the estimators knows which estimator runs.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable, Optional, Protocol

import numpy as np


@dataclasses.dataclass(frozen=True)
class RenderRequest:
    """Renders one outer step needs, all with the same (K, B) seeds (common random numbers).

    ``train`` and each entry of ``probes`` is one parameter vector for every sample (shape (d,)) or
    one per sample (shape (K, B, d)); ``sampler`` names the experiment's sampler that renders them
    (``"beta"``: f(β, r); ``"genome"``: CSG genomes). ``payload`` carries what ``tell`` needs back
    (directions, candidates)."""
    seeds: np.ndarray
    train: np.ndarray
    probes: tuple = ()
    sampler: str = "beta"
    payload: Any = None


@dataclasses.dataclass(frozen=True)
class Context:
    """What an estimator may know about its row besides hyperparameters."""
    schema: Any                        # BetaSchema of the experiment's generator
    batch_shape: tuple                 # (K, B): unroll steps × batch size
    genomes: Any = None                # the experiment's genome space, if it has one (CSG)


class Estimator(Protocol):
    name: str
    updates_beta: bool                 # β moves by gradient steps (a row with every update skipped is flagged)
    # calls trainer.meta_grad: the run compiles it in the background and trains such rows last
    uses_meta_grad: bool = False

    def init(self, state, key): ...

    def ask(self, state, key) -> RenderRequest: ...

    def tell(self, state, renders, trainer) -> tuple: ...


@dataclasses.dataclass(frozen=True)
class Entry:
    make: Callable[[Any, Context], Estimator]    # (hyperparameters, context) -> estimator
    hyper: Callable[[Any], Any]                  # config -> frozen hyperparameters


REGISTRY: dict[str, Entry] = {}
# built-in estimators by module, so that naming one imports only its own module
_BUILTIN = {n: f"hg_jax.core.estimators.{n}" for n in
            ("hybrid", "fixed", "random_beta", "random_per_sample", "random_search", "reinforce", "evolution")}
_BUILTIN["random_per_sample"] = "hg_jax.core.estimators.random_beta"


def register(name: str, hyper: Optional[Callable[[Any], Any]] = None):
    """Class decorator: ``@register("mine")`` on an estimator class whose constructor takes
    (hyperparameters, context); ``hyper(config)`` builds its hyperparameters (default: the class's
    ``Hyper.from_config``)."""
    def deco(cls):
        cls.name = name
        REGISTRY[name] = Entry(make=cls, hyper=hyper or cls.Hyper.from_config)
        return cls

    return deco


def available() -> list[str]:
    return sorted(set(_BUILTIN) | set(REGISTRY))


def entry(name: str) -> Entry:
    if name not in REGISTRY and name in _BUILTIN:
        importlib.import_module(_BUILTIN[name])
    if name not in REGISTRY:
        raise ValueError(f"config.method {name!r} is not one of {available()}")
    return REGISTRY[name]


def make(name: str, config, context: Context, **hyper_overrides) -> Estimator:
    """The estimator ``name`` with its hyperparameters from ``config`` (then ``hyper_overrides``)."""
    e = entry(name)
    hp = e.hyper(config)
    if hyper_overrides:
        hp = dataclasses.replace(hp, **hyper_overrides)
    return e.make(hp, context)


def numpy_rng(key) -> np.random.Generator:
    """A numpy Generator seeded from a jax key, for host-side random choices (genomes, breeding)."""
    import jax

    return np.random.default_rng(int(jax.random.randint(key, (), 0, 2 ** 31 - 1)))


def step_keys(key, n: int = 2):
    """The step key split into ``n`` independent keys. The first always draws the step's seeds
    (so every estimator renders the same seeds at a step); the others are the estimator's."""
    import jax

    return jax.random.split(key, n)


def seeds_for(key, batch_shape) -> np.ndarray:
    from hg_jax.core.bridge import seeds_from_key

    return seeds_from_key(key, tuple(batch_shape))
