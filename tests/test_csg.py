"""The CSG grammar: determinism, common random numbers, and statistics that follow β."""
import numpy as np
import pytest
import trimesh
from scipy import stats

from hg_jax.generators import primitives
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
        assert a.meta == c.meta
    assert not np.array_equal(g.generate(b, 0).meshes[0].vertices, g.generate(b, 1).meshes[0].vertices)


def test_crn_primitive_vertices_converge_with_same_topology():
    g = CSGGenerator(max_depth=0)
    b = g.default_beta()
    sl = SCHEMA.slices()
    sizes = [sl[f"{n}_mu"].start for n in ("sphere_radius", "box_extent", "cone_radius", "tetra_size")]
    for seed in range(4):
        base, _ = g.shape(b, seed)
        diffs = []
        for eps in (1e-1, 1e-2, 1e-3):
            bb = b.copy()
            bb[sizes] += eps
            m, _ = g.shape(bb, seed)
            assert np.array_equal(m.faces, base.faces)
            diffs.append(np.abs(m.vertices - base.vertices).max())
        assert 0 < diffs[2] < 0.2 * diffs[1] < 0.04 * diffs[0]     # linear in eps


def test_crn_attachment_points_move_continuously_in_deep_trees():
    """Booleans re-triangulate under tiny changes of β; the attachment point must not care
    (an area-CDF face pick jumped for ~4% of transforms at eps=1e-3 here)."""
    g = CSGGenerator(max_depth=3)
    b = _beta(g, p_expand=1 - 1e-6)
    sl = SCHEMA.slices()
    for name in ("sphere_radius_mu", "scale_mu"):
        for seed in range(8):
            base, m0 = g.shape(b, seed)
            bb = b.copy()
            bb[sl[name]] += 1e-3
            moved, m1 = g.shape(bb, seed)
            assert m0["primitives"] == m1["primitives"] and len(m0["attach"]) == 7
            jump = np.abs(np.array(m1["attach"]) - np.array(m0["attach"])).max()
            assert jump < 0.02, (name, seed, jump)
            assert np.abs(moved.bounds - base.bounds).max() < 0.02


def test_crn_rendered_images_converge():
    """What hybrid gradient differences: renders of composite shapes converge as eps → 0."""
    from hg_jax.generators.rendered import RenderedSampler

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
    b = _beta(g, primitive_w=probs)
    kinds = [g.shape(b, s)[1]["primitives"][0] for s in range(2000)]
    counts = np.array([kinds.count(k) for k in PRIMITIVES])
    assert stats.chisquare(counts, probs * len(kinds)).pvalue > 1e-3
    assert np.abs(counts / len(kinds) - probs).max() < 0.035
    skewed = [g.shape(_beta(g, primitive_w=[0.02, 0.02, 0.02, 0.94]), s)[1]["primitives"][0] for s in range(300)]
    assert skewed.count("tetrahedron") > 250


def test_expand_probability_controls_tree_size():
    g = CSGGenerator(max_depth=3)
    never = _beta(g, p_expand=1e-6)
    always = _beta(g, p_expand=1 - 1e-6)
    for s in range(20):
        mesh, meta = g.shape(never, s)
        assert meta["csg_nodes"] == 1 and len(meta["primitives"]) == 1 and meta["transforms"] == []
    for s in range(5):
        _, meta = g.shape(always, s)
        assert meta["csg_nodes"] == 15 and len(meta["primitives"]) == 8 and len(meta["transforms"]) == 7


def test_lognormal_parameters_follow_beta():
    g = CSGGenerator(max_depth=0)
    b = _beta(g, primitive_w=[0.997, 0.001, 0.001, 0.001], sphere_radius_mu=np.log(0.4), sphere_radius_sd=0.25)
    radii = [v[0] for s in range(1500) for kind, v in g.shape(b, s)[1]["params"] if kind == "sphere"]
    logs = np.log(radii)
    assert abs(logs.mean() - np.log(0.4)) < 0.02 and abs(logs.std() - 0.25) < 0.02
    # transformation parameters, from one boolean per shape (coarse spheres keep this fast)
    g1 = CSGGenerator(max_depth=1, sphere_subdivisions=1)
    b = _beta(g1, p_expand=1 - 1e-6, primitive_w=[0.997, 0.001, 0.001, 0.001],
              scale_mu=np.log(0.5), scale_sd=0.3, angle_mu=np.log(1.0), angle_sd=0.2)
    t = np.log([g1.shape(b, s)[1]["transforms"][0] for s in range(400)])
    assert abs(t[:, 0].mean() - np.log(0.5)) < 0.05 and abs(t[:, 0].std() - 0.3) < 0.04
    assert abs(t[:, 1].mean() - 0.0) < 0.04 and abs(t[:, 1].std() - 0.2) < 0.03


def test_surface_point_is_the_outermost_hit_along_the_direction():
    sphere = primitives.sphere(2.0, 3)
    for d in np.random.default_rng(0).standard_normal((10, 3)):
        point, u = primitives.surface_point(sphere, d)
        assert np.allclose(u, d / np.linalg.norm(d))
        assert 1.97 < np.linalg.norm(point) <= 2.0 + 1e-9 and point @ u > 1.9
    box = primitives.box((2.0, 1.0, 1.0))
    point, _ = primitives.surface_point(box, (1.0, 0.1, -0.2))
    assert np.allclose(point, (1.0, 0.1, -0.2))
    # a tube: the line through its centre along the axis misses, so the nearest surface point
    tube = trimesh.boolean.difference([box, primitives.box((3.0, 0.4, 0.4))], engine="manifold")
    point, _ = primitives.surface_point(tube, (1.0, 0.0, 0.0))
    assert np.isclose(point[0], 1.0) and np.isclose(np.abs(point[1:]).max(), 0.2)


def test_meshes_watertight_and_scene_framed_and_lit():
    g = CSGGenerator(max_depth=2)
    b = g.default_beta()
    n_lights = set()
    for s in range(20):
        mesh, _ = g.shape(b, s)
        assert mesh.is_watertight and len(mesh.faces) > 0
        scene = g.generate(b, s)
        v = scene.meshes[0].vertices
        assert np.linalg.norm(v, axis=1).max() == pytest.approx(1.0)
        assert np.allclose(0.5 * (v.min(0) + v.max(0)), 0, atol=1e-9)
        assert np.allclose(scene.camera.pose[:3, 3], (0, 0, g.camera_distance))
        assert scene.width == scene.height == g.image_size and scene.ambient == 0.0
        n_lights.add(len(scene.lights))
        for light in scene.lights:     # lights travel into the scene from the camera's side
            assert -light.direction[2] >= np.cos(np.radians(g.light_cone_deg)) - 1e-9
        assert set(scene.meta) == {"csg_nodes", "csg_fallbacks"}
    assert n_lights == {1, 2}


def test_subtraction_that_removes_everything_falls_back_and_is_counted():
    g = CSGGenerator(max_depth=1)
    b = _beta(g, p_expand=1 - 1e-6, p_union=1e-6, primitive_w=[0.997, 0.001, 0.001, 0.001],
              scale_mu=np.log(20.0), scale_sd=1e-3, offset_mu=np.log(1e-3), offset_sd=1e-3)
    mesh, meta = g.shape(b, 0)
    assert meta["csg_fallbacks"] == 1 and meta["csg_nodes"] == 3
    left = primitives.sphere(meta["params"][0][1][0], g.sphere_subdivisions)
    assert np.allclose(mesh.vertices, left.vertices)            # the left operand survived
    assert mesh.is_watertight and len(mesh.faces) > 0
    assert g.generate(b, 0).meta["csg_fallbacks"] == 1
    assert g.shape(_beta(g, p_expand=1 - 1e-6, p_union=1 - 1e-6, scale_mu=np.log(20.0)), 0)[1]["csg_fallbacks"] == 0


def test_bad_beta_and_bad_config_are_clear_errors():
    with pytest.raises(ValueError, match=rf"beta: expected shape \({SCHEMA.size},\)"):
        CSGGenerator().generate(np.zeros(3), 0)
    with pytest.raises(ValueError, match="beta: contains non-finite"):
        CSGGenerator().generate(np.full(SCHEMA.size, np.nan), 0)
    for kwargs, field in [({"max_depth": -1}, "max_depth"), ({"min_lights": 3}, "min_lights"),
                          ({"light_cone_deg": 120}, "light_cone_deg"), ({"camera_distance": 1.5}, "camera_distance"),
                          ({"sphere_subdivisions": 7}, "sphere_subdivisions")]:
        with pytest.raises(ValueError, match=field):
            CSGGenerator(**kwargs)
