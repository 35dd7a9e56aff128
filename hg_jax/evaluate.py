"""Evaluate a trained network on any folder of real data; prints one JSON line of metrics.

    python -m hg_jax.evaluate --workdir runs/mbii --data ../shared/data/mbii [--objects cup2,deer]
                              [--input shading.png] [--format mbii] [--task normals]
    python -m hg_jax.evaluate --workdir runs/nyu --data ../shared/data/rgbd --format rgbd
    python -m hg_jax.evaluate --workdir runs/nyu --data nyu_depth_v2_labeled.mat --format nyu
    python -m hg_jax.evaluate --workdir runs/faces --data ../shared/data/faces/scans --format scans
    python -m hg_jax.evaluate --workdir runs/intrinsic --data ../shared/data/textured --format textured

The network and its input size come from the workdir (report.json + latest checkpoint of the main
row, or ``--row``); inputs are prepared exactly as in training. ``--format`` picks the folder
layout, ``--task`` the ground truth (default: the run's task).
"""
from __future__ import annotations

import argparse
import json
import os

import ml_collections
import numpy as np

from hg_jax import cli
from hg_jax.errors import DataError, DataNotFound, UsageError

FORMATS = {}   # name -> loader(path, args, config) -> dict(image, target, mask)


def register_format(name: str):
    def deco(fn):
        FORMATS[name] = fn
        return fn
    return deco


def _names(args, available: list[str]) -> list[str]:
    if not args.objects:
        return available
    names = [n.strip() for n in args.objects.split(",") if n.strip()]
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise DataError(f"--objects: {unknown} not found in {args.data}; available: {available}")
    return names


@register_format("mbii")
def _load_mbii(path, args, config):
    from hg_jax.data import mbii

    available = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
    names = _names(args, available)
    task = args.task or _task_of(config)
    size = int(config["data"]["size"])
    if task == "intrinsic":
        from hg_jax.data import mbii_intrinsic
        return mbii_intrinsic.load_intrinsic_objects(path, names, size=size)
    # an MBII run's data.input is the object's image file; other runs' (gray / rgb) say nothing here
    run_input = config["data"].get("input", "")
    default = run_input if config["experiment"] == "mbii" else "shading.png"
    return mbii.load_objects(path, names, input=args.input or default, size=size)


@register_format("textured")
def _load_textured(path, args, config):
    """Textured meshes (OBJ + MTL + textures, folders or ShapeNet layout): ``--views`` random views
    (seed 0) of the objects in turn, as the intrinsic experiment renders its real targets."""
    from hg_jax.data import textured

    task = args.task or _task_of(config)
    if task != "intrinsic":
        raise UsageError(f"--format textured gives intrinsic ground truth; --task {task!r} is not supported")
    meshes = textured.load_textured_meshes(path, args.layout or "auto")
    names = _names(args, sorted(m.name for m in meshes))
    meshes = [m for m in meshes if m.name in names]
    return textured.render_textured_views(0, meshes, int(args.views or 8 * len(meshes)),
                                          int(config["data"]["size"]))


@register_format("rgbd")
def _load_rgbd(path, args, config):
    """A folder of ``<name>_color.*`` + ``<name>_depth.*`` + intrinsics json (data/rgbd.py), or the
    embedded frames folder (NYU_color.ppm, ...): normals computed from depth."""
    from hg_jax.data import rgbd

    _normals_only(args, config, "rgbd")
    gray = config["data"].get("input", "rgb") == "gray"
    size = int(config["data"]["size"])
    embedded = all(os.path.isfile(os.path.join(path, f)) for f in ("NYU_depth.pgm", "SUN_depth.png"))
    if embedded and not os.path.isfile(os.path.join(path, "intrinsics.json")):
        out = rgbd.load_embedded(path, size, gray=gray)
    else:
        out = rgbd.load_rgbd_folder(path, size, gray=gray)
    names = _names(args, list(out["names"]))
    idx = [list(out["names"]).index(n) for n in names]
    return {**{k: out[k][idx] for k in ("image", "target", "mask")}, "names": names}


@register_format("nyu")
def _load_nyu(path, args, config):
    """``--data`` = nyu_depth_v2_labeled.mat (splits.mat beside it): its standard test split, or
    ``--objects`` 0-based frame indices; ``--normals`` a normals_gt folder (default: from depth)."""
    from hg_jax.data import nyu

    _normals_only(args, config, "nyu")
    idx = None if not args.objects else [int(i) for i in args.objects.split(",")]
    return nyu.load_labeled(path, split="test", indices=idx, size=int(config["data"]["size"]),
                            normals=args.normals or "depth",
                            gray=config["data"].get("input", "rgb") == "gray")


@register_format("scans")
def _load_scans(path, args, config):
    """A folder of OBJ/PLY face scans re-rendered as in training (3 lights × 9 head poses each;
    data/scans.py); ``--views N`` keeps N views spread over poses and lights."""
    from hg_jax.data import scans
    from hg_jax.experiments.faces.setup import generator

    d = config["data"]
    return scans.load_scans_format(path, generator(d), image=d["input"], normalize=bool(d["normalize"]),
                                   objects=args.objects, views=args.views, task=args.task)


def _normals_only(args, config, fmt):
    task = args.task or _task_of(config)
    if task != "normals":
        raise UsageError(f"--format {fmt} gives normal ground truth; --task {task!r} is not supported")


def _task_of(config) -> str:
    """The run's task, as its experiment builds it (no data is loaded)."""
    from hg_jax import experiments

    return experiments.module(config["experiment"]).network_and_task(ml_collections.ConfigDict(config))[2].name


def evaluate(workdir: str, data: str, fmt: str = "mbii", row: str | None = None, **kw) -> dict:
    import jax.numpy as jnp

    from hg_jax import checkpoint, experiments

    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is unknown (evaluate): allowed {sorted(FORMATS)}")
    workdir, data = cli.path(workdir), cli.path(data)
    if not os.path.exists(data):
        raise DataNotFound(f"--data does not exist ({data}): allowed a folder or file in the --format layout")
    config, params = checkpoint.load_trained(workdir, row)
    args = argparse.Namespace(data=data, objects=kw.get("objects"), input=kw.get("input"),
                              task=kw.get("task"), views=kw.get("views"), layout=kw.get("layout"),
                              normals=kw.get("normals"))
    batch = FORMATS[fmt](data, args, config)
    _, apply_fn, task = experiments.module(config["experiment"]).network_and_task(
        ml_collections.ConfigDict(config))
    preds = [np.asarray(apply_fn(params, jnp.asarray(batch["image"][i:i + 8]))[-1])
             for i in range(0, len(batch["image"]), 8)]
    metrics = task.metrics(np.concatenate(preds), {k: np.asarray(batch[k]) for k in ("image", "target", "mask")})
    return {"workdir": os.path.abspath(workdir), "data": os.path.abspath(data), "format": fmt,
            "n": int(len(batch["image"])), **{k: float(v) for k, v in metrics.items()}}


def main(argv=None):
    ap = cli.ArgumentParser(prog="python -m hg_jax.evaluate")
    ap.add_argument("--workdir", required=True, help="a run directory written by launch.py")
    ap.add_argument("--data", required=True, help="folder of real data in the --format layout")
    ap.add_argument("--format", default="mbii", help=f"folder layout: {sorted(FORMATS)}")
    ap.add_argument("--task", default=None, help="normals | depth | intrinsic (default: the run's task)")
    ap.add_argument("--objects", default=None, help="comma-separated subset of the folder's items")
    ap.add_argument("--input", default=None, help="image file of each object used as input (MBII)")
    ap.add_argument("--row", default=None, help="which trained row of the run (default: its method)")
    ap.add_argument("--views", type=int, default=None, help="rendered views (textured, scans formats)")
    ap.add_argument("--layout", default=None, help="textured: auto | folders | shapenet")
    ap.add_argument("--normals", default=None, help="nyu: a normals_gt folder (default: normals from depth)")
    args = ap.parse_args(argv)
    out = evaluate(cli.existing_dir(args.workdir, "--workdir"), args.data, args.format, args.row,
                   objects=args.objects, input=args.input, task=args.task, views=args.views,
                   layout=args.layout, normals=args.normals)
    print(json.dumps(out))


if __name__ == "__main__":
    cli.main(main)
