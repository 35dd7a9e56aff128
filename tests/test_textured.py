"""Textured shapes (generator) and textured meshes (real data): UVs, loaders, renders, splits."""
import os

import numpy as np
import pytest
import trimesh
from PIL import Image

from hg_jax.data import textured as tx
from hg_jax.generators.rendered import luminance, make_sample
from hg_jax.generators.textured_shapes import (SHAPES, TexturedShapeGenerator, texture_seed, uv_box,
                                               uv_cylinder, uv_sphere)
from hg_jax.generators.textures import TextureGenerator
from hg_jax.render.pyrender_backend import get_renderer, srgb_to_linear
from hg_jax.render.scene import Light

S = 32
GEN = TexturedShapeGenerator(texture=TextureGenerator(texture_size=64, canvas_size=48, supersample=2),
                             image_size=S, sphere_resolution=12)


# ---- primitives with UVs -------------------------------------------------------------------------

@pytest.mark.parametrize("parts", [uv_sphere(8, 16), uv_box((0.5, 1.0, 1.5)), uv_cylinder(0.4, 1.2, 16)],
                         ids=["sphere", "box", "cylinder"])
def test_uv_primitives_are_closed_outward_and_non_degenerate(parts):
    vs, fs, off = [], [], 0
    for v, f, uv, smooth in parts:
        assert uv.shape == (len(v), 2) and np.all(np.isfinite(uv))
        n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
        assert np.linalg.norm(n, axis=1).min() > 1e-9                     # no zero-area triangle
        assert np.all(np.einsum("ij,ij->i", n, v[f].mean(1)) > 0)          # outward (convex, centred)
        vs.append(v)
        fs.append(f + off)
        off += len(v)
    mesh = trimesh.Trimesh(np.concatenate(vs), np.concatenate(fs), process=False)
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    assert mesh.is_watertight and mesh.volume > 0


def test_sphere_uvs_are_spherical_with_a_seam_column():
    (v, f, uv, smooth), = uv_sphere(6, 12)
    assert smooth
    lon = np.mod(np.arctan2(v[:, 1], v[:, 0]), 2 * np.pi)
    off_pole = np.abs(v[:, 2]) < 0.999
    seam = np.isclose(uv[:, 0], 2.0)
    np.testing.assert_allclose(uv[off_pole & ~seam, 0], 2 * lon[off_pole & ~seam] / (2 * np.pi), atol=1e-9)
    np.testing.assert_allclose(uv[:, 1], 1 - np.arccos(np.clip(v[:, 2], -1, 1)) / np.pi, atol=1e-9)
    assert seam.sum() == 7                                                # one duplicate per latitude


# ---- the generator -----------------------------------------------------------------------------------

def test_generator_is_deterministic_and_its_beta_is_the_texture_beta():
    assert GEN.schema == GEN.texture.schema
    np.testing.assert_array_equal(GEN.default_beta(), GEN.texture.default_beta())
    b = GEN.default_beta()
    s1, s2 = GEN.generate(b, 5), GEN.generate(b, 5)
    assert len(s1.meshes) == len(s2.meshes) >= 1
    for p, q in zip(s1.meshes, s2.meshes):
        np.testing.assert_array_equal(p.vertices, q.vertices)
        np.testing.assert_array_equal(p.uv, q.uv)
        np.testing.assert_array_equal(p.texture, q.texture)
        assert p.texture.dtype == np.uint8
    np.testing.assert_array_equal(s1.meshes[0].texture, GEN.texture.texture(b, texture_seed(5)))
    allv = np.concatenate([p.vertices for p in s1.meshes])
    assert np.linalg.norm(allv, axis=1).max() == pytest.approx(1.0, abs=0.05)


def test_only_the_texture_depends_on_beta():
    b = GEN.default_beta()
    b2 = b + 0.3
    s1, s2 = GEN.generate(b, 9), GEN.generate(b2, 9)
    for p, q in zip(s1.meshes, s2.meshes):
        np.testing.assert_array_equal(p.vertices, q.vertices)
    assert [l.direction for l in s1.lights] == [l.direction for l in s2.lights]
    assert not np.array_equal(s1.meshes[0].texture, s2.meshes[0].texture)


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_renders_and_albedo_times_shading_is_the_image(shape):
    gen = TexturedShapeGenerator(texture=GEN.texture, shapes=(shape,), image_size=S, sphere_resolution=12)
    b = gen.default_beta()
    r = get_renderer(S, S)
    for seed in range(2):
        scene = gen.generate(b, seed)
        assert scene.meta["shape"] == shape
        out = r.render(scene)
        sample = make_sample(out, "intrinsic", "rgb")
        m = sample["mask"][..., 0] > 0.5
        assert m.mean() > 0.05
        albedo, shading, image = sample["target"][..., :3], sample["target"][..., 3:], sample["image"]
        assert albedo[m].std(0).mean() > 0.005                               # the texture shows
        # exactly in luminance (how shading is defined), within pyrender's white specular per channel
        np.testing.assert_allclose(luminance(albedo * shading)[m], luminance(image)[m], atol=2e-4)
        assert np.abs(albedo * shading - image)[m].mean() < 0.1 * image[m].mean()


def test_normalized_sampler_scales_image_and_shading_together():
    from hg_jax.generators.rendered import RenderedSampler

    raw = RenderedSampler(GEN, target="intrinsic", image="rgb", normalize=False)(GEN.default_beta(), 3)
    out = RenderedSampler(GEN, target="intrinsic", image="rgb", normalize=True)(GEN.default_beta(), 3)
    m = out["mask"][..., 0] > 0.5
    scale = np.percentile(raw["image"][m], 99.0)
    np.testing.assert_allclose(out["image"], raw["image"] / scale, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out["target"][..., :3], raw["target"][..., :3])      # albedo unchanged
    np.testing.assert_allclose(luminance(out["target"][..., :3] * out["target"][..., 3:])[m],
                               luminance(out["image"])[m], atol=1e-3)


# ---- real textured meshes -----------------------------------------------------------------------------

QUAD_OBJ = """mtllib {mtl}
v -1 -1 0
v 1 -1 0
v 1 1 0
v -1 1 0
vt 0 0
vt 1 0
vt 1 1
vt 0 1
usemtl {material}
f 1/1 2/2 3/3
f 1/1 3/3 4/4
"""
# texture quadrants as stored (row 0 = top): red top-left, green top-right, blue bottom-left, white
QUADRANTS = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]], np.uint8)


def _shapenet_fixture(root):
    """v2 model: textured quad, texture in ../images as ShapeNetCore v2 has it; v1 model: Kd only."""
    m2 = os.path.join(root, "02691156", "abc123", "models")
    os.makedirs(m2)
    os.makedirs(os.path.join(root, "02691156", "abc123", "images"))
    Image.fromarray(np.kron(QUADRANTS, np.ones((4, 4, 1), np.uint8))).save(
        os.path.join(root, "02691156", "abc123", "images", "texture0.png"))
    with open(os.path.join(m2, "model_normalized.mtl"), "w") as f:
        f.write("newmtl tex\nKd 0.64 0.64 0.64\nmap_Kd ../images/texture0.png\n")
    with open(os.path.join(m2, "model_normalized.obj"), "w") as f:
        f.write(QUAD_OBJ.format(mtl="model_normalized.mtl", material="tex"))
    m1 = os.path.join(root, "03001627", "def456")
    os.makedirs(m1)
    with open(os.path.join(m1, "model.mtl"), "w") as f:
        f.write("newmtl grey\nKd 0.5 0.5 0.5\n")
    with open(os.path.join(m1, "model.obj"), "w") as f:
        f.write(QUAD_OBJ.format(mtl="model.mtl", material="grey"))


def test_shapenet_layout_loads_and_texture_lands_where_the_uvs_say(tmp_path):
    _shapenet_fixture(str(tmp_path))
    layout, files = tx.find_obj_files(str(tmp_path))
    assert layout == "shapenet" and [n for n, _ in files] == ["02691156/abc123", "03001627/def456"]
    textured, plain = tx.load_textured_meshes(str(tmp_path))
    assert textured.name == "02691156/abc123" and not textured.parts[0].smooth   # CAD: flat
    part = textured.parts[0]
    assert part.texture.shape == (8, 8, 3) and part.uv.shape == (len(part.vertices), 2)
    np.testing.assert_allclose(np.linalg.norm(part.vertices, axis=1).max(), 1.0, atol=1e-9)
    np.testing.assert_array_equal(part.texture[0, 0], [255, 0, 0])              # sRGB 0/255 stay put
    assert plain.parts[0].texture is None
    np.testing.assert_allclose(plain.parts[0].color, srgb_to_linear(np.full(3, 0.5)), atol=3e-3)  # trimesh keeps Kd in 8 bits

    # OBJ convention: uv (0, 0) is the image's bottom-left; rendered face-on, the image is upright
    out = get_renderer(S, S).render(tx.view_scene(textured, np.eye(3), (Light((0, 0, -1)),), S))
    a = out["albedo"]
    q = S // 2
    lo, hi = q - 6, q + 6                                        # inside the quad, off the centre lines
    expect = {(lo, lo): [1, 0, 0], (lo, hi): [0, 1, 0], (hi, lo): [0, 0, 1], (hi, hi): [1, 1, 1]}
    for (row, col), rgb in expect.items():
        np.testing.assert_allclose(a[row, col], rgb, atol=0.02, err_msg=f"pixel {(row, col)}")
    grey = get_renderer(S, S).render(tx.view_scene(plain, np.eye(3), (Light((0, 0, -1)),), S))
    np.testing.assert_allclose(grey["albedo"][q, q], srgb_to_linear(np.full(3, 0.5)), atol=0.01)


def test_loader_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        tx.find_obj_files(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="layout"):
        tx.find_obj_files(str(tmp_path), layout="obj")
    with pytest.raises(FileNotFoundError, match="no ShapeNet model"):
        tx.find_obj_files(str(tmp_path), layout="shapenet")
    with pytest.raises(FileNotFoundError, match="no .obj"):
        tx.find_obj_files(str(tmp_path), layout="folders")
    _shapenet_fixture(str(tmp_path))
    with pytest.raises(ValueError, match="not under"):
        tx.load_textured_meshes(str(tmp_path), names=["02691156/nope"])


def test_real_textured_scans_load_and_render(shared_data):
    root = os.path.join(shared_data, "textured")
    meshes = tx.load_textured_meshes(root)
    assert [m.name for m in meshes] == ["fuze/fuze", "ycb_banana/textured_simple_reoriented"]
    for m in meshes:
        assert len(m.parts) == 1 and m.parts[0].smooth
        p = m.parts[0]
        assert p.texture.dtype == np.uint8 and max(p.texture.shape[:2]) <= 512
        assert p.uv.shape == (len(p.vertices), 2)
        np.testing.assert_allclose(np.linalg.norm(p.vertices, axis=1).max(), 1.0, atol=1e-9)
    d = tx.render_textured_views(0, meshes, 4, S)
    assert d["image"].shape == (4, S, S, 3) and d["target"].shape == (4, S, S, 4)
    assert d["names"] == [m.name for m in meshes] * 2
    yellow = 0
    for i in range(4):
        m = d["mask"][i, ..., 0] > 0.5
        assert m.mean() > 0.03
        img, alb, sh = d["image"][i], d["target"][i, ..., :3], d["target"][i, ..., 3:]
        assert np.percentile(img[m], 99) == pytest.approx(1.0, abs=1e-4)           # normalised
        np.testing.assert_allclose(luminance(alb * sh)[m], luminance(img)[m], atol=1e-3)
        if "banana" in d["names"][i]:                                             # banana is yellow
            mean = alb[m].mean(0)
            yellow += mean[0] > 2 * mean[2] and mean[1] > 2 * mean[2]
    assert yellow == 2
    again = tx.render_textured_views(0, meshes, 4, S)
    np.testing.assert_array_equal(again["image"], d["image"])                     # seed decides all


def test_split_by_view_for_few_objects_and_by_object_for_many():
    few = [tx.TexturedMesh(n, ()) for n in ("b", "a")]
    (v_m, v_seed), (t_m, t_seed) = tx.split_meshes(few, "validation", 0), tx.split_meshes(few, "test", 0)
    assert [m.name for m in v_m] == [m.name for m in t_m] == ["a", "b"] and v_seed != t_seed
    many = [tx.TexturedMesh(n, ()) for n in ("d", "c", "b", "a", "e")]
    v_names = [m.name for m in tx.split_meshes(many, "validation", 0)[0]]
    t_names = [m.name for m in tx.split_meshes(many, "test", 0)[0]]
    assert v_names == ["a", "c", "e"] and t_names == ["b", "d"]
    with pytest.raises(ValueError, match="split"):
        tx.split_meshes(many, "train", 0)


def test_generator_pickles_for_the_render_pool():
    import pickle

    g = pickle.loads(pickle.dumps(GEN))
    b = GEN.default_beta()
    np.testing.assert_array_equal(g.generate(b, 3).meshes[0].texture, GEN.generate(b, 3).meshes[0].texture)
