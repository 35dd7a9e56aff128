"""Renderer registry: ``render.renderer`` names a factory ``(width, height, spp) -> renderer``
whose ``render(scene, seed) -> dict`` returns pyrender_backend's maps. No jax here.

A sampler holds its renderer as a value: a registered *name*, or the factory itself when that is a
module-level function (both pickle to spawned workers by reference; a renderer instance, with its
GL context, would not). Each process makes one renderer per (renderer, size, spp) on first use.
"""
from __future__ import annotations

from typing import Callable


def _pyrender(width: int, height: int, spp: int):
    from hg_jax.render import pyrender_backend

    return _SeedIgnored(pyrender_backend.get_renderer(width, height))


def _mitsuba(width: int, height: int, spp: int):
    from hg_jax.render import mitsuba_backend

    # one thread per process: the render pool's workers are the parallelism
    return mitsuba_backend.get_renderer(width, height, spp=spp, threads=1)


class _SeedIgnored:
    """pyrender is deterministic: the seed has nothing to fix."""

    def __init__(self, renderer):
        self.renderer = renderer

    takes_maps = True     # pyrender skips the passes a target does not need

    def render(self, scene, seed: int = 0, maps=None) -> dict:
        return self.renderer.render(scene) if maps is None else self.renderer.render(scene, maps)


_FACTORIES: dict[str, Callable] = {"pyrender": _pyrender, "mitsuba": _mitsuba}
_INSTANCES: dict[tuple, object] = {}


def register_renderer(name: str, factory: Callable) -> None:
    """Make ``render.renderer = name`` render with ``factory(width, height, spp)``. Register at
    import time of a module the config's setup imports, so spawned workers register it too."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"renderer name {name!r} is invalid: allowed a non-empty string")
    _FACTORIES[name] = factory


def available() -> tuple:
    return tuple(_FACTORIES)


def get_renderer(name, width: int, height: int, spp: int = 16):
    """This process's renderer ``name`` (a registered name or a factory) for a size and sample count."""
    if callable(name):
        key = (name, int(width), int(height), int(spp))
        if key not in _INSTANCES:
            _INSTANCES[key] = name(int(width), int(height), int(spp))
        return _INSTANCES[key]
    if name not in _FACTORIES:
        raise ValueError(f"renderer {name!r} is not registered: allowed {available()} "
                         "(hg_jax.render.renderers.register_renderer adds one)")
    key = (name, int(width), int(height), int(spp))
    if key not in _INSTANCES:
        _INSTANCES[key] = _FACTORIES[name](int(width), int(height), int(spp))
    return _INSTANCES[key]
