"""The fast sampler paths give the samples the old ones gave: CSG on plain arrays and manifold3d
(solids.py) against the trimesh-object grammar it replaced (csg_reference.py), and renders that
skip the passes a target does not need against the full three-pass render."""
import numpy as np
import pytest

from csg_reference import TrimeshCSG
from hg_jax.generators import primitives, solids
from hg_jax.generators.csg import CSGGenerator
from hg_jax.generators.rendered import MAPS, RenderedSampler, make_sample
from hg_jax.render.pyrender_backend import get_renderer


@pytest.mark.parametrize("depth", [2, 3])
def test_array_csg_matches_trimesh_csg(depth):
    new, old = CSGGenerator(max_depth=depth), TrimeshCSG(max_depth=depth)
    b = new.default_beta()
    for seed in range(25):
        (v, f), meta = new.solid(b, seed)
        mesh, ref_meta = old.solid(b, seed)
        assert meta["primitives"] == ref_meta["primitives"]
        assert meta["csg_fallbacks"] == ref_meta["csg_fallbacks"]
        assert np.array_equal(f, mesh.faces)               # same triangulation, same order
        np.testing.assert_allclose(v, mesh.vertices, rtol=0, atol=1e-12)


def test_array_primitives_are_the_trimesh_ones():
    for r in (0.3, 1.7):
        np.testing.assert_allclose(solids.sphere(r, 3)[0], primitives.sphere(r, 3).vertices, atol=1e-14)
        assert np.array_equal(solids.sphere(r, 3)[1], primitives.sphere(r, 3).faces)
    ext = (0.4, 1.1, 0.7)
    assert np.array_equal(solids.box(ext)[0], primitives.box(ext).vertices)
    assert np.array_equal(solids.box(ext)[1], primitives.box(ext).faces)
    for args in ((0.5, 0.3, 0.9), (1.2, 0.99, 0.2)):
        c = primitives.truncated_cone(*args)
        assert np.array_equal(solids.truncated_cone(*args)[0], c.vertices)
        assert np.array_equal(solids.truncated_cone(*args)[1], c.faces)
    t = primitives.tetrahedron(0.6)
    assert np.array_equal(solids.tetrahedron(0.6)[0], t.vertices)
    assert np.array_equal(solids.tetrahedron(0.6)[1], t.faces)


def test_array_csg_renders_like_trimesh_csg():
    new, old = CSGGenerator(image_size=64), TrimeshCSG(image_size=64)
    b = new.default_beta()
    r = get_renderer(64, 64)
    for seed in range(8):
        a = r.render(new.frame(new.solid(b, seed)[0], seed))
        c = r.render(old.frame(old.solid(b, seed)[0], seed))
        assert np.array_equal(a["mask"], c["mask"])
        for k in ("color", "depth", "normals"):
            np.testing.assert_allclose(a[k], c[k], atol=1e-6)


@pytest.mark.parametrize("depth", [2, 3])
def test_union_by_zbuffer_renders_like_the_boolean_union(depth):
    """generate() draws unions as their operands' triangles; every boolean computed (solid())
    renders the same maps but where the operands' surfaces cross (a few pixels' normals, depth to
    the depth buffer's precision)."""
    g = CSGGenerator(max_depth=depth, image_size=64)
    b = g.default_beta()
    r = get_renderer(64, 64)
    lazy_unions, off, total = 0, 0, 0
    for seed in range(20):
        scene = g.generate(b, seed)
        solid, meta = g.solid(b, seed)
        exact = g.frame(solid, seed, {k: meta[k] for k in ("csg_nodes", "csg_fallbacks")})
        assert scene.meta == exact.meta and scene.lights == exact.lights
        lazy_unions += len(scene.meshes[0].faces) != len(solid[1])
        a, c = r.render(scene), r.render(exact)
        assert np.array_equal(a["mask"], c["mask"])
        m = a["mask"]
        ang = np.degrees(np.arccos(np.clip((a["normals"][m] * c["normals"][m]).sum(1), -1, 1)))
        off, total = off + int((ang > 0.5).sum()), total + int(m.sum())
        np.testing.assert_allclose(a["depth"], c["depth"], atol=2e-4)
        np.testing.assert_allclose(a["color"][m][ang < 0.5], c["color"][m][ang < 0.5], atol=2 / 255)
    assert lazy_unions >= 5                  # the test saw unions drawn by the z-buffer
    assert off <= 1e-3 * total


def _samplers():
    from hg_jax.generators.perturb import PerturbedIndoorGenerator
    from hg_jax.generators.textured_shapes import TexturedShapeGenerator

    return [RenderedSampler(CSGGenerator(image_size=64), "normals", "gray", True),
            RenderedSampler(PerturbedIndoorGenerator(base_scenes="procedural", num_scenes=2, image_size=64),
                            "normals", "rgb", True),
            RenderedSampler(TexturedShapeGenerator(image_size=64), "intrinsic", "rgb", True),
            RenderedSampler(CSGGenerator(image_size=64), "depth", "gray", False)]


@pytest.mark.parametrize("k", range(4))
def test_selected_passes_give_the_full_render_sample(k):
    """A render of only the maps a target needs (mask from depth when there is no id pass) makes
    the bit-identical sample the full three-pass render makes; same (β, seed) → same sample."""
    smp = _samplers()[k]
    b = smp.default_beta()
    r = get_renderer(64, 64)
    for seed in range(6):
        scene = smp.scene(b, seed)
        full = make_sample(r.render(scene), smp.target, smp.image)
        part = make_sample(r.render(scene, MAPS[smp.target]), smp.target, smp.image)
        for key in ("image", "target", "mask"):
            assert np.array_equal(full[key], part[key]), key
        once, again = smp(b, seed), smp(b, seed)
        for key in ("image", "target", "mask"):
            assert np.array_equal(once[key], again[key]), key


def test_unknown_map_is_refused():
    scene = CSGGenerator(image_size=64).generate(CSGGenerator().default_beta(), 0)
    with pytest.raises(ValueError, match="unknown maps"):
        get_renderer(64, 64).render(scene, ("color", "specular"))
