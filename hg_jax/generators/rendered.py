"""f(β, r) = render(grammar(β, r)): the bridge from a scene grammar to a training sample.

A *scene generator* (csg.py, perturb.py, faces.py, textured_shapes.py) has ``schema``, ``default_beta()``
and ``generate(beta, seed) -> Scene``. ``RenderedSampler`` renders that scene with the process's
one renderer (``renderer``: a name — pyrender, mitsuba, or one registered in
hg_jax.render.renderers — or a module-level factory) and picks the maps the task needs. It is
picklable, so the render pool can run it in worker processes. No jax here.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from hg_jax import colour

TARGETS = ("normals", "depth", "intrinsic")
# the renderer maps each target needs: a pass nothing needs is not rendered (pyrender_backend.py)
MAPS = {"normals": ("color", "normals"), "depth": ("color",), "intrinsic": ("color", "albedo")}
IMAGES = ("gray", "rgb")


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 -> (H, W, 1) float32, Rec. 709 weights on linear values."""
    return colour.luminance(rgb, np.float32)[..., None]


def make_sample(out: dict, target: str, image: str) -> dict:
    """Turn renderer maps (color, albedo, normals, depth, mask) into an (image, target, mask) sample."""
    mask = out["mask"].astype(np.float32)[..., None]
    color = out["color"].astype(np.float32)
    img = luminance(color) if image == "gray" else color
    if target == "normals":
        tgt = out["normals"].astype(np.float32)
    elif target == "depth":
        tgt = out["depth"].astype(np.float32)[..., None]
    elif target == "intrinsic":
        albedo = out["albedo"].astype(np.float32)
        a = luminance(albedo)
        # Shading is defined by the render itself (image / albedo), so albedo x shading reproduces
        # the image exactly wherever albedo > 0, whatever the renderer's lighting model is.
        shading = np.where(a > 1e-4, luminance(color) / np.maximum(a, 1e-4), 0.0)
        tgt = np.concatenate([albedo, shading.astype(np.float32)], axis=-1)
        mask = mask * (a > 1e-4)
    else:
        raise ValueError(f"target {target!r} not in {TARGETS}")
    return {"image": np.ascontiguousarray(img, np.float32),
            "target": np.ascontiguousarray(tgt * mask, np.float32),
            "mask": mask}


@dataclasses.dataclass(frozen=True)
class RenderedSampler:
    generator: Any          # a scene generator: schema, default_beta(), generate(beta, seed)
    target: str = "normals"
    image: str = "gray"
    normalize: bool = False  # scale the image like the real photos (data/imageops.normalize_intensity)
    # a name in hg_jax.render.renderers, or a module-level factory (width, height, spp) -> renderer
    renderer: Any = "pyrender"
    spp: int = 16            # samples per pixel, for renderers that sample (mitsuba)

    def __post_init__(self):
        if self.target not in TARGETS:
            raise ValueError(f"sampler target {self.target!r} not in {TARGETS}")
        if self.image not in IMAGES:
            raise ValueError(f"sampler image {self.image!r} not in {IMAGES}")

    @property
    def schema(self):
        return self.generator.schema

    def default_beta(self) -> np.ndarray:
        return self.generator.default_beta()

    def scene(self, beta, seed: int):
        return self.generator.generate(np.asarray(beta, np.float64), int(seed))

    def __call__(self, beta, seed: int) -> dict:
        from hg_jax.render.renderers import get_renderer  # lazily: one renderer per process
        scene = self.scene(beta, seed)
        # the sample's seed also seeds a sampling renderer: f(β±δ, r) share their noise; a renderer
        # that can skip passes (``takes_maps``) is told which maps this target needs
        renderer = get_renderer(self.renderer, scene.width, scene.height, self.spp)
        maps = {"maps": MAPS[self.target]} if getattr(renderer, "takes_maps", False) else {}
        out = renderer.render(scene, seed=int(seed), **maps)
        sample = make_sample(out, self.target, self.image)
        if self.normalize:
            from hg_jax.data.imageops import normalize_intensity, normalize_intrinsic

            if self.target == "intrinsic":   # shading scales with the image: image = albedo × shading
                return normalize_intrinsic(sample)
            sample["image"] = np.asarray(normalize_intensity(sample["image"], sample["mask"]), np.float32)
        return sample
