"""Face generator: β layout, determinism, common random numbers, sampled statistics vs β, renders."""
import pickle

import numpy as np
import pytest
from scipy.special import i0, i1

from hg_jax.generators.faces import FaceGenerator, get_model, rotation_matrix
from hg_jax.generators.rendered import RenderedSampler


@pytest.fixture(scope="module")
def gen(shared_data):
    return FaceGenerator(image_size=32)


def test_schema_layout(gen):
    s = gen.schema
    assert s.names == ("id_w", "id_mu", "id_sd", "expr_w", "expr_mu", "expr_sd",
                       "tex_w", "tex_mu", "tex_sd", "pose_w", "pose_mu", "pose_kappa")
    assert [s.field(n).size for n in s.names] == [2, 20, 20, 2, 20, 20, 2, 10, 10, 2, 6, 6]
    assert s.size == 120
    one = FaceGenerator(n_components=1, n_pose_components=1, n_identity=3, n_expression=4)
    assert one.schema.names == ("id_mu", "id_sd", "expr_mu", "expr_sd", "tex_mu", "tex_sd", "pose_mu",
                                "pose_kappa")
    b = gen.default_beta()
    c = s.constrained(b)
    assert np.allclose(c["id_mu"], 0) and np.all(c["id_sd"] > 0.8)
    assert np.all(c["expr_sd"] < 0.25)                         # blendshape weights: small
    yaw_sd = np.degrees(1 / np.sqrt(c["pose_kappa"][0::3]))
    assert np.allclose(yaw_sd, [15, 30], atol=0.5)
    # ICT default expression modes are real, moving blendshapes
    names = [get_model("").expression_names[i] for i in gen.expression_indices()]
    assert names[0] == "jawOpen" and len(set(names)) == 10
    with pytest.raises(ValueError, match="expression_modes"):
        FaceGenerator(expression_modes=("jawOpen",))


def test_pickle_and_lazy_model(gen):
    g2 = pickle.loads(pickle.dumps(gen))
    assert g2 == gen and len(pickle.dumps(gen)) < 2000             # the model is not pickled


def test_determinism_vertices_and_render(gen):
    b = gen.default_beta()
    v1, p1 = gen.face_vertices(b, 7)
    v2, p2 = gen.face_vertices(b.copy(), 7)
    np.testing.assert_array_equal(v1, v2)
    np.testing.assert_array_equal(p1["pose"], p2["pose"])
    v3, _ = gen.face_vertices(b, 8)
    assert np.abs(v3 - v1).max() > 0.1
    sampler = RenderedSampler(gen, target="depth", image="gray")
    a, c = sampler(b, 7), sampler(b, 7)
    for k in ("image", "target", "mask"):
        np.testing.assert_array_equal(a[k], c[k])
    assert a["image"].shape == (32, 32, 1) and a["target"].shape == (32, 32, 1)
    m = a["mask"][..., 0] > 0
    assert 0.15 < m.mean() < 0.9
    d = a["target"][..., 0]
    assert np.all(d[m] > 0) and np.all(d[~m] == 0)
    # depth in cm around the camera distance (60 cm to the pivot, the face in front of it)
    assert 45 < np.median(d[m]) < 65 and d[m].max() - d[m].min() < 25
    rgb = RenderedSampler(gen, target="depth", image="rgb")(b, 7)
    assert rgb["image"].shape == (32, 32, 3)
    np.testing.assert_array_equal(rgb["target"], a["target"])


def test_crn_continuity(gen):
    """A small step in β moves the face a little (same components, same draws)."""
    b = gen.default_beta()
    rng = np.random.default_rng(0)
    for seed in range(5):
        v0, p0 = gen.face_vertices(b, seed)
        for eps in (1e-3, 1e-5):
            d = rng.standard_normal(b.shape)
            d *= eps / np.linalg.norm(d)
            v1, p1 = gen.face_vertices(b + d, seed)
            assert (p1["id_component"], p1["expr_component"], p1["pose_component"]) == \
                   (p0["id_component"], p0["expr_component"], p0["pose_component"])
            dv = np.abs(v1 - v0).max()
            assert 0 < dv < 500 * eps                              # cm per unit of β: bounded
            assert 0 < np.abs(p1["pose"] - p0["pose"]).max() < 50 * eps


def test_component_boundary_is_the_only_jump(gen):
    """Moving the mixture weight changes the face only when the fixed uniform changes component."""
    b = gen.default_beta()
    sl = gen.schema.slices()["id_w"]
    u = gen.draws(3)["id_u"]
    comps = []
    for logit in np.linspace(-6, 6, 25):
        bb = b.copy()
        bb[sl] = [logit, 0.0]
        comps.append(gen.sample_params(bb, 3)["id_component"])
    comps = np.array(comps)
    assert set(comps) == {0, 1} and np.all(np.diff(comps) <= 0)      # more weight on 0 -> component 0
    w0 = 1 / (1 + np.exp(-np.linspace(-6, 6, 25)))
    np.testing.assert_array_equal(comps == 0, u < w0)


def test_rotation_conventions():
    fwd = np.array([0.0, 0.0, 1.0])
    assert rotation_matrix(np.radians(30), 0, 0) @ fwd @ [1, 0, 0] > 0.49   # yaw > 0: looks to +X
    assert rotation_matrix(0, np.radians(20), 0) @ fwd @ [0, 1, 0] > 0.3    # pitch > 0: looks up
    up = np.array([0.0, 1.0, 0.0])
    assert rotation_matrix(0, 0, np.radians(30)) @ up @ [1, 0, 0] < -0.49   # roll > 0: counter-clockwise


def test_sampled_statistics_match_beta(shared_data):
    """Many seeds, no rendering: component frequencies, per-component Gaussians, clipping, rest modes
    and von Mises pose statistics all follow β."""
    g = FaceGenerator(n_identity=3, n_expression=2, n_texture=2, rest_identity_std=0.25,
                      rest_expression_scale=0.05, rest_texture_std=0.3)
    s = g.schema
    vals = {
        "id_w": [0.3, 0.7], "id_mu": [2.0, -1.0, 0.5, -2.0, 0.0, 1.0],
        "id_sd": [0.5, 0.2, 1.0, 0.3, 0.8, 0.1],
        "expr_w": [0.5, 0.5], "expr_mu": [0.5, 0.5, 0.1, 0.9], "expr_sd": [0.1, 0.1, 0.3, 0.3],
        "tex_w": [0.6, 0.4], "tex_mu": [1.0, -0.5, -1.0, 0.5], "tex_sd": [0.3, 0.2, 0.5, 0.1],
        "pose_w": [0.8, 0.2], "pose_mu": [0.3, -0.1, 0.05, -0.5, 0.0, 0.0],
        "pose_kappa": [20.0, 50.0, 200.0, 5.0, 5.0, 5.0],
    }
    b = s.unconstrain(vals)
    n = 3000
    ps = [g.sample_params(b, seed) for seed in range(n)]
    ci = np.array([p["id_component"] for p in ps])
    ident = np.stack([p["identity"] for p in ps])
    expr = np.stack([p["expression"] for p in ps])
    pose = np.stack([p["pose"] for p in ps])
    cp = np.array([p["pose_component"] for p in ps])
    tol = 4 * np.sqrt(0.3 * 0.7 / n)
    assert abs(np.mean(ci == 0) - 0.3) < tol
    assert abs(np.mean(cp == 0) - 0.8) < 4 * np.sqrt(0.16 / n)
    for k in (0, 1):
        x = ident[ci == k, :3]
        mu, sd = np.array(vals["id_mu"][3 * k:3 * k + 3]), np.array(vals["id_sd"][3 * k:3 * k + 3])
        assert np.all(np.abs(x.mean(0) - mu) < 4 * sd / np.sqrt(len(x)))
        np.testing.assert_allclose(x.std(0), sd, rtol=0.1)
    rest = ident[:, 3:]
    assert rest.shape[1] == 97 and abs(rest.std() - 0.25) < 0.01 and abs(rest.mean()) < 0.01
    # expression: chosen modes are the ICT defaults, clipped to [0, 1]; others small half-normal
    idx = g.expression_indices()
    assert np.all((expr >= 0) & (expr <= 1))
    ce = np.array([p["expr_component"] for p in ps])
    x0 = expr[ce == 0][:, idx]
    np.testing.assert_allclose(x0.mean(0), [0.5, 0.5], atol=0.02)
    np.testing.assert_allclose(x0.std(0), [0.1, 0.1], rtol=0.1)
    x1 = expr[ce == 1][:, idx[1]]                                  # mean 0.9, sd 0.3: clipped at 1
    assert np.mean(x1 == 1.0) == pytest.approx(1 - 0.6306, abs=0.05)  # P(N(0.9, 0.3) > 1) ≈ 0.37
    others = np.delete(expr, idx, axis=1)
    assert abs(others.mean() - 0.05 * np.sqrt(2 / np.pi)) < 0.003
    # pose, component 0: circular mean and mean resultant length I1(κ)/I0(κ) per angle
    p0 = pose[cp == 0]
    for a, (mu, kap) in enumerate(zip([0.3, -0.1, 0.05], [20.0, 50.0, 200.0])):
        c = np.cos(p0[:, a] - mu).mean()
        assert abs(np.angle(np.exp(1j * p0[:, a]).mean()) - mu) < 4 / np.sqrt(kap * len(p0))
        assert c == pytest.approx(i1(kap) / i0(kap), abs=0.01)
    # pose clipping: |yaw| <= 80°
    assert np.abs(pose[:, 0]).max() <= np.radians(80) + 1e-12
    # texture: component frequencies, per-component Gaussians, the rest modes at their fixed spread
    ct = np.array([p["tex_component"] for p in ps])
    tex = np.stack([p["texture"] for p in ps])
    assert abs(np.mean(ct == 0) - 0.6) < 4 * np.sqrt(0.24 / n)
    for k in (0, 1):
        x = tex[ct == k, :2]
        mu, sd = np.array(vals["tex_mu"][2 * k:2 * k + 2]), np.array(vals["tex_sd"][2 * k:2 * k + 2])
        assert np.all(np.abs(x.mean(0) - mu) < 4 * sd / np.sqrt(len(x)))
        np.testing.assert_allclose(x.std(0), sd, rtol=0.1)
    assert tex.shape[1] == 5 and abs(tex[:, 2:].std() - 0.3) < 0.01


# ---- texture (albedo) coefficients ---------------------------------------------------------------
def _albedo(gen, beta, seed):
    return gen.albedo(gen.sample_params(beta, seed))


def _with_tex_mu(gen, mode, value):
    """β0 with mode ``mode``'s mean set to ``value`` in every component and the spreads tiny."""
    s = gen.schema
    v = {k: np.asarray(x) for k, x in s.constrained(gen.default_beta()).items()}
    mu = v["tex_mu"].reshape(gen.n_components, gen.n_texture).copy()
    mu[:, mode] = value
    v["tex_mu"] = mu.ravel()
    v["tex_sd"] = np.full_like(v["tex_sd"], 1e-3)
    return s.unconstrain(v)


def test_each_texture_mode_moves_the_albedo_in_its_direction(gen):
    """ICT's space (tone, warmth, lips, cheeks, brows): raising a mode's mean makes the face lighter,
    warmer, its lips redder, its cheeks redder, its brows darker; a regional mode leaves the face
    away from its region alone."""
    space = gen.albedo_space
    assert space.names == ("tone", "warmth", "lips", "cheeks", "brows")
    lum = np.array([0.2126, 0.7152, 0.0722])
    region = {n: np.abs(space.basis[i]).max(1) > 0.5 * np.abs(space.basis[i]).max() for i, n in enumerate(space.names)}
    for seed in (0, 1):
        lo = {n: _albedo(gen, _with_tex_mu(gen, i, -1.0), seed) for i, n in enumerate(space.names)}
        hi = {n: _albedo(gen, _with_tex_mu(gen, i, 1.0), seed) for i, n in enumerate(space.names)}
        assert (hi["tone"] @ lum).mean() > 1.5 * (lo["tone"] @ lum).mean()
        red_blue = lambda a: (a[:, 0] - a[:, 2]).mean()                        # noqa: E731
        assert red_blue(hi["warmth"]) > red_blue(lo["warmth"]) + 0.02
        for name in ("lips", "cheeks"):
            r = region[name]
            ratio = lambda a: (a[r, 0] / np.maximum(a[r, 1], 1e-6)).mean()    # noqa: E731
            assert ratio(hi[name]) > ratio(lo[name]) * 1.05, name
            i = space.names.index(name)
            far = np.abs(space.basis[i]).max(1) < 0.01 * np.abs(space.basis[i]).max()
            assert far.mean() > 0.3 and np.abs(hi[name][far] - lo[name][far]).max() < 0.005, name
        r = region["brows"]
        assert (hi["brows"][r] @ lum).mean() < 0.8 * (lo["brows"][r] @ lum).mean()


def test_texture_crn_same_seed_identical_small_step_small_change(gen):
    b = gen.default_beta()
    sl = gen.schema.slices()
    for seed in range(4):
        a0 = _albedo(gen, b, seed)
        np.testing.assert_array_equal(a0, _albedo(gen, b.copy(), seed))
        diffs = []
        for eps in (1e-2, 1e-3, 1e-4):
            b2 = b.copy()
            b2[sl["tex_mu"]] += eps
            b2[sl["tex_sd"]] -= eps
            diffs.append(np.abs(_albedo(gen, b2, seed) - a0).max())
        assert 0 < diffs[2] < 0.2 * diffs[1] < 0.04 * diffs[0] + 1e-12, diffs
    # the component changes only where the weight's boundary crosses the fixed uniform
    u = gen.draws(3)["tex_u"]
    comps = []
    for logit in np.linspace(-6, 6, 25):
        bb = b.copy()
        bb[sl["tex_w"]] = [logit, 0.0]
        comps.append(gen.sample_params(bb, 3)["tex_component"])
    np.testing.assert_array_equal(np.array(comps) == 0, u < 1 / (1 + np.exp(-np.linspace(-6, 6, 25))))


def test_texture_tone_brightens_the_rendered_face(gen):
    """Same seed (geometry, pose, lights): a lighter skin tone renders a brighter image and albedo,
    the same depth."""
    sampler = RenderedSampler(gen, target="intrinsic", image="gray")
    dark, light = _with_tex_mu(gen, 0, -1.5), _with_tex_mu(gen, 0, 1.5)
    for seed in (2, 5):
        a, b = sampler(dark, seed), sampler(light, seed)
        m = (a["mask"][..., 0] > 0) & (b["mask"][..., 0] > 0)
        assert m.mean() > 0.1
        assert b["image"][m].mean() > 1.5 * a["image"][m].mean()
        assert b["target"][..., :3][m].mean() > 1.5 * a["target"][..., :3][m].mean()
        depth = RenderedSampler(gen, target="depth", image="gray")
        np.testing.assert_array_equal(depth(dark, seed)["target"], depth(light, seed)["target"])


def test_a_model_with_a_colour_pca_uses_it(shared_data):
    """A Basel-style model (texMU / texPC / texEV): the albedo space is the model's own, and β's tex_*
    coefficients are in units of its standard deviations."""
    from hg_jax.data.face_model import MorphableModel
    from hg_jax.generators import faces
    from hg_jax.generators.face_albedo import albedo_space

    ict = get_model("")
    v = ict.mean.shape[0]
    rng = np.random.default_rng(0)
    basis = rng.standard_normal((3, v, 3)).astype(np.float32)
    basis /= np.linalg.norm(basis.reshape(3, -1), axis=1)[:, None, None]
    model = MorphableModel(mean=ict.mean, triangles=ict.triangles, identity_basis=ict.identity_basis[:4],
                           identity_std=np.ones(4), expression_basis=ict.expression_basis[:2],
                           expression_std=np.ones(2), color_mean=np.full((v, 3), 0.5),
                           color_basis=basis, color_std=np.array([20.0, 10.0, 5.0]), name="pca")
    space = albedo_space(model)
    assert space.names == ("pc0", "pc1", "pc2")
    c = np.array([0.5, -1.0, 0.2])
    np.testing.assert_allclose(space.srgb(c), model.colors(c))
    faces._MODELS["memory:pca"] = model
    try:
        g = FaceGenerator(model_path="memory:pca", n_identity=2, n_expression=1, n_texture=2, image_size=32)
        b = g.default_beta()
        p = g.sample_params(b, 4)
        assert p["texture"].shape == (3,)
        np.testing.assert_allclose(g.albedo(p), space.linear(p["texture"]))
        with pytest.raises(ValueError, match="n_texture"):
            FaceGenerator(model_path="memory:pca", n_identity=2, n_expression=1, n_texture=4).sample_params(
                FaceGenerator(model_path="memory:pca", n_identity=2, n_expression=1, n_texture=4).default_beta(), 0)
    finally:
        faces._MODELS.pop("memory:pca", None)
        faces._ALBEDO.pop("memory:pca", None)
