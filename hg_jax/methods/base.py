"""One interface for every way of choosing β, and the registry a config picks from.

A method is ``init(engine, state) -> state`` and ``step(engine, state) -> (state, info)``: one outer
step given the engine (pool, network, task, jitted pieces) and the frozen state. ``info`` holds at
least ``val_loss`` and ``compute_s`` (seconds blocked on network compute this step); the experiment
loop adds render seconds from the pool (a method rendering through a pool of its own reports them
as ``render_s`` and frees it in an optional ``close(engine)``). A new method is a new file plus a
``register`` line.
"""
from __future__ import annotations

from typing import Callable, Protocol

REGISTRY: dict[str, Callable[..., "Method"]] = {}


class Method(Protocol):
    name: str

    def init(self, engine, state): ...

    def step(self, engine, state): ...


def register(name: str):
    def deco(cls):
        REGISTRY[name] = cls
        cls.name = name
        return cls

    return deco


def get_method(name: str, **kwargs) -> "Method":
    _import_all()
    if name not in REGISTRY:
        raise ValueError(f"config.method {name!r} is not one of {sorted(REGISTRY)}")
    return REGISTRY[name](**kwargs)


def available() -> list[str]:
    _import_all()
    return sorted(REGISTRY)


def _import_all():
    import importlib
    import pkgutil

    import hg_jax.methods as pkg

    for m in pkgutil.iter_modules(pkg.__path__):
        if m.name != "base":
            importlib.import_module(f"hg_jax.methods.{m.name}")
