"""Real textured meshes for the intrinsic experiment (paper §5.4): loaders and random-light renders.

Layouts read (OBJ + MTL + texture images, through trimesh):

- folders: any ``*.obj`` under a root, one object per file, named by its path relative to the
  root without the extension (``../shared/data/textured``: ``fuze/fuze``,
  ``ycb_banana/textured_simple_reoriented``);
- ShapeNet: ``<root>/<synset>/<model>/models/model_normalized.obj`` (ShapeNetCore v2) or
  ``<root>/<synset>/<model>/model.obj`` (v1), named ``<synset>/<model>``, textures where the MTL
  says (v2: ``../images/``; assets may lie anywhere under the OBJ's parent folder, no higher).

Colour. Texture files and MTL ``Kd`` are sRGB; ``MeshPart`` wants linear albedo, so both go
through the sRGB decoding curve. A part with a texture uses the texture alone (``Kd`` beside a
``map_Kd`` is ignored: exporters write arbitrary defaults there, e.g. Blender's 0.64); a part
without one is the constant ``Kd``. Textures larger than ``max_texture`` a side are box-reduced
(in sRGB, before decoding) so a 4096² scan texture costs a 512² upload per render (plenty for 64–128 px views).

Geometry: all parts of an object are moved together so the bounding box is centred at the origin
and the bounding sphere (about that centre) has radius 1, as the generators frame their shapes.

Views (``render_textured_views``): each view takes the next object in turn, a uniformly random
rotation, and lights from ``sampling.random_lights`` with the generator's defaults, so real
and synthetic renders differ only in shape and texture. Samples follow the intrinsic convention
(``generators.rendered.make_sample``: target = albedo RGB + shading = luminance(image) /
luminance(albedo)), and with ``normalize`` image and shading are divided by the same robust maximum
(``normalize_intrinsic``), keeping image = albedo × shading.

Split (``split_meshes``): with at least 4 objects, by object (sorted by name, every second one is
test); with fewer, by view: both splits render every object, from disjoint random streams
(validation ``SeedSequence([seed, 0])``, test ``[seed, 1]``), so no view is shared.
"""
from __future__ import annotations

import dataclasses
import glob
import os
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from hg_jax.data import data_root
from hg_jax.data.imageops import normalize_intrinsic
from hg_jax.colour import srgb_to_linear
from hg_jax.generators.rendered import make_sample
from hg_jax.generators.sampling import random_lights, uniform_rotation
from hg_jax.render.scene import Camera, MeshPart, Scene, look_at
from hg_jax.errors import DataError, DataNotFound

LAYOUTS = ("auto", "folders", "shapenet")
SPLITS = ("validation", "test")
SHAPENET_FILES = (os.path.join("models", "model_normalized.obj"), "model.obj")
HOW_TO_GET = ("textured meshes: OBJ + MTL + texture folders (../shared/data/textured beside the repo, "
              "$HG_JAX_DATA/textured, or a ShapeNetCore v1/v2 root: <synset>/<model>/model.obj or "
              "<synset>/<model>/models/model_normalized.obj)")


def default_root() -> str:
    """$HG_JAX_DATA/textured if HG_JAX_DATA is set, else <repo>/../shared/data/textured."""
    return data_root("textured")


@dataclasses.dataclass(frozen=True, eq=False)
class TexturedMesh:
    name: str
    parts: tuple            # tuple[MeshPart, ...], normalised into the unit sphere


# ---- loading -----------------------------------------------------------------------------------

def _texture(image: Image.Image, max_texture: int) -> np.ndarray:
    image = image.convert("RGB")
    if max(image.size) > max_texture:
        f = max(image.size) / max_texture
        image = image.resize((max(1, round(image.size[0] / f)), max(1, round(image.size[1] / f))), Image.BOX)
    srgb = np.asarray(image, np.float64) / 255.0
    return np.round(srgb_to_linear(srgb) * 255.0).astype(np.uint8)


def _part(mesh: trimesh.Trimesh, smooth: bool, max_texture: int) -> MeshPart:
    v, f = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)
    visual = mesh.visual
    material = getattr(visual, "material", None)
    image = None
    if material is not None:
        image = getattr(material, "image", None)
        if image is None:
            image = getattr(material, "baseColorTexture", None)
    uv = getattr(visual, "uv", None)
    if image is not None and uv is not None and len(uv) == len(v):
        return MeshPart(v, f, uv=np.asarray(uv, np.float64), texture=_texture(image, max_texture), smooth=smooth)
    colour = None
    if material is not None:
        colour = getattr(material, "diffuse", None)
        if colour is None:
            colour = getattr(material, "baseColorFactor", None)
    elif hasattr(visual, "main_color"):
        colour = visual.main_color
    if colour is None:
        rgb = (0.8, 0.8, 0.8)
    else:
        c = np.asarray(colour, np.float64)[:3]
        c = c / 255.0 if c.max() > 1.0 or np.asarray(colour).dtype == np.uint8 else c
        rgb = tuple(float(x) for x in srgb_to_linear(c))
    return MeshPart(v, f, color=rgb, smooth=smooth)


def normalize_parts(parts) -> tuple:
    """Centre the parts' joint bounding box at the origin, bounding sphere radius 1."""
    allv = np.concatenate([p.vertices for p in parts])
    centre = 0.5 * (allv.min(0) + allv.max(0))
    radius = np.linalg.norm(allv - centre, axis=1).max()
    if not np.isfinite(radius) or radius <= 0:
        raise DataError("mesh is degenerate (all vertices at one point)")
    return tuple(dataclasses.replace(p, vertices=(p.vertices - centre) / radius) for p in parts)


class _ModelResolver(trimesh.resolvers.FilePathResolver):
    """Assets relative to the OBJ's folder, allowed anywhere under its parent folder: ShapeNetCore
    v2's MTL names its textures ``../images/...``, which trimesh >= 5 refuses by default."""

    def absolute(self, name: str):
        parent = Path(self.parent).resolve()
        path = (parent / name.strip()).resolve()
        if not path.is_relative_to(parent.parent):
            raise DataError(f"asset {name!r} escapes {parent.parent}")
        return path


def load_textured_obj(path: str, *, name: str | None = None, smooth: bool = True,
                      max_texture: int = 512) -> TexturedMesh:
    """One OBJ (with its MTL and textures) as a normalised ``TexturedMesh``."""
    if not os.path.isfile(path):
        raise DataNotFound(f"textured mesh not found: {path}. {HOW_TO_GET}")
    if max_texture < 1:
        raise DataError(f"max_texture = {max_texture} is invalid: allowed an integer >= 1")
    try:
        scene = trimesh.load(path, force="scene", resolver=_ModelResolver(path))
    except Exception as e:  # trimesh raises many kinds for a broken file: name the file instead
        raise DataError(f"{path}: not a readable OBJ ({type(e).__name__}: {e})") from None
    meshes = [m for m in scene.dump() if isinstance(m, trimesh.Trimesh) and len(m.faces) > 0]
    if not meshes:
        raise DataError(f"{path}: no triangles")
    parts = normalize_parts([_part(m, smooth, max_texture) for m in meshes])
    return TexturedMesh(name or os.path.splitext(os.path.basename(path))[0], parts)


def find_obj_files(root: str, layout: str = "auto") -> tuple[str, list[tuple[str, str]]]:
    """The layout found ("folders" or "shapenet") and (name, path) of every object under ``root``,
    sorted by name; ``auto`` is ShapeNet when any ShapeNet-layout model exists, else folders."""
    if layout not in LAYOUTS:
        raise DataError(f"textured layout {layout!r}: allowed {LAYOUTS}")
    if not os.path.isdir(root):
        raise DataNotFound(f"textured mesh folder not found: {root}. {HOW_TO_GET}")
    found = []
    if layout in ("auto", "shapenet"):
        for synset in sorted(os.listdir(root)):
            sdir = os.path.join(root, synset)
            if not os.path.isdir(sdir):
                continue
            for model in sorted(os.listdir(sdir)):
                for rel in SHAPENET_FILES:
                    path = os.path.join(sdir, model, rel)
                    if os.path.isfile(path):
                        found.append((f"{synset}/{model}", path))
                        break
        if found or layout == "shapenet":
            if not found:
                raise DataNotFound(f"no ShapeNet model under {root} (expected <synset>/<model>/"
                                        f"{' or '.join(SHAPENET_FILES)})")
            return "shapenet", found
    paths = sorted(glob.glob(os.path.join(root, "**", "*.obj"), recursive=True))
    if not paths:
        raise DataNotFound(f"no .obj file under {root}. {HOW_TO_GET}")
    return "folders", [(os.path.splitext(os.path.relpath(p, root))[0].replace(os.sep, "/"), p) for p in paths]


def load_textured_meshes(root: str, layout: str = "auto", *, names=None, smooth: bool | None = None,
                         max_texture: int = 512) -> list[TexturedMesh]:
    """Every object under ``root`` (or those in ``names``). ``smooth`` defaults to True for
    folders (scans) and False for ShapeNet (CAD models with sharp edges)."""
    found, files = find_obj_files(root, layout)
    if names is not None:
        have = dict(files)
        missing = [n for n in names if n not in have]
        if missing:
            raise DataError(f"textured objects {missing} not under {root}; found {sorted(have)}")
        files = [(n, have[n]) for n in names]
    smooth = (found == "folders") if smooth is None else smooth
    return [load_textured_obj(p, name=n, smooth=smooth, max_texture=max_texture) for n, p in files]


# ---- rendering -----------------------------------------------------------------------------------

def view_scene(mesh: TexturedMesh, rotation: np.ndarray, lights: tuple, size: int,
               camera_distance: float = 3.6, yfov: float = 0.6) -> Scene:
    """The mesh turned by ``rotation`` (3×3), seen from +z at ``camera_distance``."""
    parts = tuple(dataclasses.replace(p, vertices=p.vertices @ np.asarray(rotation).T) for p in mesh.parts)
    return Scene(parts, Camera(look_at((0, 0, camera_distance), (0, 0, 0)), yfov=yfov), lights,
                 ambient=0.0, width=size, height=size, meta={"object": mesh.name})


def render_textured_views(seed: int, meshes, n_views: int, size: int = 64, *, normalize: bool = True,
                          min_lights: int = 1, max_lights: int = 2, light_cone_deg: float = 60.0,
                          light_intensity: float = 3.0) -> dict:
    """``n_views`` intrinsic samples: view i shows ``meshes[i % len(meshes)]`` under a uniform
    random rotation and random directional lights, all drawn from ``seed``. Returns stacked
    float32 ``image`` (N,S,S,3), ``target`` (N,S,S,4), ``mask`` (N,S,S,1), and ``names``."""
    from hg_jax.render.pyrender_backend import get_renderer  # lazily: GL is per process

    meshes = list(meshes)
    if not meshes:
        raise DataError("render_textured_views: no meshes")
    if not (isinstance(n_views, (int, np.integer)) and n_views >= 1):
        raise DataError(f"render_textured_views: n_views = {n_views!r}, allowed an integer >= 1")
    rng = np.random.default_rng(seed)
    rot = rng.standard_normal((n_views, 4))
    light_u = rng.uniform(size=(n_views, max_lights, 3))
    renderer = get_renderer(size, size)
    samples, names = [], []
    for i in range(n_views):
        mesh = meshes[i % len(meshes)]
        lights = random_lights(light_u[i], min_lights, max_lights, light_cone_deg, light_intensity)
        out = renderer.render(view_scene(mesh, uniform_rotation(rot[i]), lights, size))
        sample = make_sample(out, "intrinsic", "rgb")
        samples.append(normalize_intrinsic(sample) if normalize else sample)
        names.append(mesh.name)
    stacked = {k: np.stack([s[k] for s in samples]).astype(np.float32) for k in ("image", "target", "mask")}
    stacked["names"] = names
    return stacked


def split_meshes(meshes, split: str, seed: int) -> tuple[list, int]:
    """The objects of ``split`` and the seed of its views (see the module's docstring)."""
    if split not in SPLITS:
        raise DataError(f"textured split {split!r}: allowed {SPLITS}")
    meshes = sorted(meshes, key=lambda m: m.name)
    index = SPLITS.index(split)
    if len(meshes) >= 4:
        meshes = meshes[index::2]
    view_seed = int(np.random.SeedSequence([int(seed), index]).generate_state(1)[0])
    return meshes, view_seed


def load_textured_split(root: str, split: str, *, n_views: int, size: int = 64, seed: int = 0,
                        layout: str = "auto", max_texture: int = 512, normalize: bool = True) -> dict:
    """Load the objects under ``root`` and render the ``split``'s views."""
    meshes, view_seed = split_meshes(load_textured_meshes(root, layout, max_texture=max_texture), split, seed)
    return render_textured_views(view_seed, meshes, n_views, size, normalize=normalize)
