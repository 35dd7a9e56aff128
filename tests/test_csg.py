"""The CSG grammar: determinism, common random numbers, and statistics that follow β."""
import numpy as np
import pytest

from hg_jax.generators.csg import PRIMITIVES, SCHEMA, CSGGenerator


def _beta(gen, **values):
    named = {k: np.asarray(v) for k, v in SCHEMA.constrained(gen.default_beta()).items()}
    named.update(values)
    return SCHEMA.unconstrain(named)


def test_same_seed_same_scene_bit_identical():
    g = CSGGenerator()
    b = g.default_beta()
    for seed in range(5):
        a, c = g.generate(b, seed), g.generate(b, seed)
        assert np.array_equal(a.meshes[0].vertices, c.meshes[0].vertices)
        assert np.array_equal(a.meshes[0].faces, c.meshes[0].faces)
        assert a.lights == c.lights and np.array_equal(a.camera.pose, c.camera.pose)


def test_crn_small_beta_change_gives_small_change():
    """Vertices move continuously for a primitive; renders of CSG shapes converge as δ → 0
    (booleans may re-triangulate, but the rendered surface moves continuously)."""
    from hg_jax.generators.rendered import RenderedSampler

    g = CSGGenerator(max_depth=0)
    b = g.default_beta()
    sizes = [SCHEMA.slices()[f"{n}_mu"].start for n in ("sphere_radius", "box_extent", "cone_radius", "tetra_size")]
    for seed in range(4):
        base, _ = g.shape(b, seed)
        diffs = []
        for eps in (1e-1, 1e-2, 1e-3):
            bb = b.copy()
            bb[sizes] += eps
            m, _ = g.shape(bb, seed)
            assert m.faces.shape == base.faces.shape
            diffs.append(np.abs(m.vertices - base.vertices).max())
        assert diffs[0] > diffs[1] > diffs[2] > 0
    deep = RenderedSampler(CSGGenerator(max_depth=2))
    b = _beta(deep.generator, p_expand=1 - 1e-6)   # always compose, so scale_mu matters after framing
    k = SCHEMA.slices()["scale_mu"].start
    for seed in (1, 2):
        img = deep(b, seed)["image"]
        d = []
        for eps in (1e-1, 1e-2, 1e-4):
            bb = b.copy()
            bb[k] += eps
            d.append(np.abs(deep(bb, seed)["image"] - img).mean())
        assert d[0] > d[2] and d[2] < 0.2 * d[0] + 1e-6


def test_primitive_frequencies_follow_the_simplex():
    g = CSGGenerator(max_depth=0)
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    b = _beta(g, primitive=probs)
    kinds = [g.shape(b, s)[1]["primitives"][0] for s in range(2000)]
    freq = np.array([kinds.count(k) for k in PRIMITIVES]) / len(kinds)
    assert np.abs(freq - probs).max() < 0.035


def test_expand_probability_controls_tree_size():
    g = CSGGenerator(max_depth=3)
    never = _beta(g, p_expand=1e-6)
    always = _beta(g, p_expand=1 - 1e-6)
    assert all(g.shape(never, s)[1]["csg_nodes"] == 1 for s in range(20))
    assert all(g.shape(always, s)[1]["csg_nodes"] == 15 for s in range(5))


def test_lognormal_parameters_follow_beta():
    g = CSGGenerator(max_depth=0)
    b = _beta(g, primitive=[0.997, 0.001, 0.001, 0.001], sphere_radius_mu=np.log(0.4), sphere_radius_sigma=0.25)
    radii = [v[0] for s in range(1500) for kind, v in g.shape(b, s)[1]["params"] if kind == "sphere"]
    logs = np.log(radii)
    assert abs(logs.mean() - np.log(0.4)) < 0.02 and abs(logs.std() - 0.25) < 0.02


def test_meshes_watertight_and_scene_framed():
    g = CSGGenerator(max_depth=2)
    b = g.default_beta()
    for s in range(20):
        mesh, _ = g.shape(b, s)
        assert mesh.is_watertight and len(mesh.faces) > 0
        scene = g.generate(b, s)
        assert np.linalg.norm(scene.meshes[0].vertices, axis=1).max() == pytest.approx(1.0)
        assert 1 <= len(scene.lights) <= g.max_lights


def test_subtraction_that_removes_everything_falls_back_and_is_counted():
    g = CSGGenerator(max_depth=1)
    b = _beta(g, p_expand=1 - 1e-6, p_union=1e-6, primitive=[0.997, 0.001, 0.001, 0.001],
              scale_mu=np.log(20.0), scale_sigma=1e-3, offset_mu=np.log(1e-3), offset_sigma=1e-3)
    mesh, meta = g.shape(b, 0)
    assert meta["csg_fallbacks"] == 1 and meta["csg_nodes"] == 3
    assert mesh.is_watertight and len(mesh.faces) > 0          # the left operand survived
    assert g.generate(b, 0).meta["csg_fallbacks"] == 1


def test_wrong_beta_length_is_a_clear_error():
    with pytest.raises(ValueError, match=rf"beta: expected shape \({SCHEMA.size},\)"):
        CSGGenerator().generate(np.zeros(3), 0)
    with pytest.raises(ValueError, match="max_depth"):
        CSGGenerator(max_depth=-1)
