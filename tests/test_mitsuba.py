"""The Mitsuba 3 path tracer behind the Scene interface: its ground truth agrees with pyrender's,
its noise is fixed by the seed (common random numbers), and the renderer slot takes user renderers."""
import dataclasses
import pickle

import numpy as np
import pytest

from hg_jax.config import ConfigError, base, validate
from hg_jax.generators.csg import CSGGenerator
from hg_jax.generators.indoor import procedural_scene
from hg_jax.generators.rendered import RenderedSampler
from hg_jax.render import mitsuba_backend, pyrender_backend, renderers

S = 32


def _agreement(scene):
    a = pyrender_backend.get_renderer(S, S).render(scene)
    b = mitsuba_backend.get_renderer(S, S, spp=8, threads=1).render(scene, seed=1)
    assert set(a) == set(b)
    for k in a:
        assert a[k].shape == b[k].shape and a[k].dtype == b[k].dtype, k
    both = a["mask"] & b["mask"]
    iou = both.sum() / (a["mask"] | b["mask"]).sum()
    cos = np.clip((a["normals"][both] * b["normals"][both]).sum(-1), -1, 1)
    angle = np.degrees(np.arccos(cos))
    rel = np.abs(a["depth"][both] - b["depth"][both]) / a["depth"][both]
    return a, b, iou, angle, rel


@pytest.mark.parametrize("seed", [0, 1])
def test_csg_normals_depth_mask_agree_with_pyrender(seed):
    g = CSGGenerator(image_size=S, max_depth=2)
    a, b, iou, angle, rel = _agreement(g.generate(g.default_beta(), seed))
    # maps are pixel means (Mitsuba) vs pixel centres (pyrender): they differ only at edges
    assert iou > 0.95
    assert np.median(angle) < 0.5 and angle.mean() < 3.0
    assert np.median(rel) < 0.005 and rel.mean() < 0.01
    np.testing.assert_allclose(b["albedo"][b["mask"]].mean(0), a["albedo"][a["mask"]].mean(0), atol=0.01)


def test_indoor_scene_agrees_with_pyrender_and_is_lit():
    a, b, iou, angle, rel = _agreement(procedural_scene(0).to_scene(0, S, S))
    assert iou > 0.98
    assert np.median(angle) < 0.5 and angle.mean() < 5.0
    assert np.median(rel) < 0.005 and rel.mean() < 0.02
    # a closed room would block the outside lights: they become lamps inside, so the room is lit
    assert b["color"][b["mask"]].mean() > 0.05
    assert (b["face"] >= 0).mean() > 0.5      # pixels whose samples all hit one triangle


def test_image_is_deterministic_for_a_seed_and_noise_is_shared():
    g = CSGGenerator(image_size=S, max_depth=1)
    s = RenderedSampler(g, renderer="mitsuba", spp=2)
    beta = g.default_beta()
    one, again = s(beta, 5), s(beta, 5)
    np.testing.assert_array_equal(one["image"], again["image"])
    other = s(beta, 5)["image"]
    np.testing.assert_array_equal(one["image"], other)
    # common random numbers: the same scene under two sampler seeds differs by noise; β±δ with one
    # seed share it, so their difference is smaller than one scene's across seeds
    r = mitsuba_backend.get_renderer(S, S, spp=2, threads=1)
    sc = g.generate(beta, 5)
    moved = dataclasses.replace(sc, lights=tuple(dataclasses.replace(l, intensity=l.intensity * 1.05)
                                                 for l in sc.lights))
    same = np.abs(r.render(sc, seed=7)["color"] - r.render(moved, seed=7)["color"]).mean()
    diff = np.abs(r.render(sc, seed=7)["color"] - r.render(moved, seed=8)["color"]).mean()
    assert same < 0.5 * diff


def test_beta_perturbation_difference_smaller_with_the_same_seed():
    """Through the sampler: f(β+δ, r) − f(β−δ, r) vs f(β+δ, r) − f(β−δ, r') (the CSG seed fixes the
    shape; the renderer seed differs only through Mitsuba's sampler)."""
    g = CSGGenerator(image_size=S, max_depth=1)
    beta = g.default_beta()
    delta = 0.02 * np.random.default_rng(0).standard_normal(beta.shape)
    sc_p, sc_m = g.generate(beta + delta, 3), g.generate(beta - delta, 3)
    r = mitsuba_backend.get_renderer(S, S, spp=2, threads=1)
    same = np.abs(r.render(sc_p, seed=3)["color"] - r.render(sc_m, seed=3)["color"]).mean()
    diff = np.abs(r.render(sc_p, seed=3)["color"] - r.render(sc_m, seed=4)["color"]).mean()
    assert same < diff


class _Flat:
    def __init__(self, w, h, spp):
        self.shape, self.spp = (h, w), spp

    def render(self, scene, seed=0):
        h, w = self.shape
        m = np.ones((h, w), bool)
        n = np.zeros((h, w, 3), np.float32)
        n[..., 2] = 1
        return {"color": np.full((h, w, 3), 0.5, np.float32), "albedo": np.full((h, w, 3), 0.5, np.float32),
                "normals": n, "depth": np.ones((h, w), np.float32), "mask": m,
                "face": np.zeros((h, w), np.int64)}


def test_registry_takes_a_user_renderer_and_samplers_pickle():
    renderers.register_renderer("flat_test", _Flat)
    c = base()
    c.experiment, c.render.renderer = "toy", "flat_test"
    validate(c)
    g = CSGGenerator(image_size=S, max_depth=0)
    s = pickle.loads(pickle.dumps(RenderedSampler(g, renderer="flat_test")))
    out = s(g.default_beta(), 0)
    assert np.allclose(out["target"][..., 2], 1) and out["image"].shape == (S, S, 1)
    with pytest.raises(ValueError, match="not registered"):
        RenderedSampler(g, renderer="nope")(g.default_beta(), 0)


def test_a_renderer_factory_is_a_value_the_sampler_carries_into_workers():
    """No registry needed: a module-level factory pickles by reference, renders in this process
    and in a spawned render worker, and gives the same sample in both."""
    from hg_jax.render.pool import RenderPool

    g = CSGGenerator(image_size=S, max_depth=0)
    sampler = RenderedSampler(g, renderer=_Flat)
    here = sampler(g.default_beta(), 3)
    assert np.allclose(here["target"][..., 2], 1)
    with RenderPool(sampler, num_workers=1) as pool:
        there = pool.submit([(g.default_beta(), 3)]).result()[0]
    for k in here:
        np.testing.assert_array_equal(here[k], there[k])


@pytest.mark.parametrize("field,value,match", [("renderer", "blender", "render.renderer"),
                                               ("spp", 0, "render.spp")])
def test_config_validation_names_the_field(field, value, match):
    c = base()
    c.experiment = "toy"
    c.render[field] = value
    with pytest.raises(ConfigError, match=match):
        validate(c)


def test_mitsuba_config_variants():
    from tests.conftest import load_config

    for name in ("nyu", "mbii"):
        for v in ("mitsuba", "small_mitsuba"):
            c = load_config(name, v)
            assert c.render.renderer == "mitsuba" and c.render.spp >= 1
            validate(c)


@pytest.mark.slow
def test_small_mbii_run_with_mitsuba(tmp_path, shared_data):
    from hg_jax.experiment import run
    from tests.conftest import load_config

    c = load_config("mbii", "small_mitsuba")
    # the smallest run through every stage: renders dominate, path tracing is ~5x pyrender's cost
    c.outer_steps, c.eval_every, c.render.spp, c.render.num_workers = 2, 2, 2, 1
    c.data.size, c.data.val_items, c.data.test_items = 16, ("apple", "box"), ("cup1",)
    c.model = dict(num_stacks=1, depth=1, channels=8, norm="group", conv="im2col")
    rep = run(c, str(tmp_path))
    m = rep["metrics"]["mbii_test"]
    assert 0 < m["mean_angle"] < 90
    assert (tmp_path / "report.json").exists()
