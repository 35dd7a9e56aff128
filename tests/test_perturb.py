"""The NYU perturbation grammar: schema, von Mises inverse CDF, CRN, statistics, clamping, renders."""
import dataclasses
import pickle

import numpy as np
import pytest
from scipy import integrate, special, stats

from hg_jax.generators.perturb import PerturbedIndoorGenerator, make_schema
from hg_jax.generators.sampling import vonmises_cdf, vonmises_ppf
from hg_jax.generators.rendered import RenderedSampler

GEN = PerturbedIndoorGenerator(num_scenes=4, image_size=32)


def _arrays(scene):
    return [p.vertices for p in scene.meshes] + [scene.camera.pose]


def test_schema_layout_and_default_beta():
    s = GEN.schema
    assert s.size == 56 and s.names == ("obj_shift_w", "obj_shift_mu", "obj_shift_sd", "obj_rot_w",
                                        "obj_rot_mu", "obj_rot_kappa", "cam_shift_w", "cam_shift_mu",
                                        "cam_shift_sd", "cam_rot_w", "cam_rot_mu", "cam_rot_kappa")
    assert [s.field(n).kind for n in ("obj_shift_w", "obj_shift_mu", "obj_shift_sd", "cam_rot_kappa")] == \
        ["simplex", "real", "positive", "positive"]
    p = s.constrained(GEN.default_beta())
    assert np.allclose(p["obj_shift_w"], (0.7, 0.3)) and np.allclose(p["obj_shift_mu"], 0)
    assert np.allclose(p["obj_shift_sd"], (0.1, 0.005, 0.1, 0.3, 0.01, 0.3))
    assert np.allclose(p["cam_shift_sd"], (0.1, 0.05, 0.1, 0.25, 0.1, 0.25))
    assert np.allclose(p["obj_rot_kappa"], (100, 1e4, 1e4, 10, 2500, 2500))
    assert np.allclose(p["cam_rot_kappa"], [400] * 3 + [60] * 3)
    one = make_schema(1)
    assert one.size == 24 and not any(n.endswith("_w") for n in one.names)
    assert make_schema(3).size == 4 * 3 + 3 * (3 + 3 + 3 + 3) * 2
    with pytest.raises(ValueError, match="unknown beta values"):
        GEN.beta_from(obj_shift_std=1.0)
    with pytest.raises(ValueError, match="expected"):
        GEN.beta_from(cam_shift_sd=(1, 2, 3, 4))
    with pytest.raises(ValueError, match="expected shape"):
        GEN.generate(np.zeros(3), 0)


@pytest.mark.parametrize("kappa", [0.0, 0.3, 2.0, 10.0, 60.0, 400.0, 1e4])
def test_vonmises_inverse_cdf_is_exact(kappa):
    u = np.array([1e-6, 0.01, 0.2, 0.5, 0.63, 0.9, 0.999, 1 - 1e-7])
    x = vonmises_ppf(u, kappa)
    assert np.all(np.diff(x) > 0) and np.all(np.abs(x) < np.pi)
    assert np.allclose(vonmises_cdf(x, kappa), u, atol=1e-12, rtol=0)
    # the CDF against adaptive quadrature of the density, and the inverse against scipy (scipy's
    # own CDF is a normal approximation with ~1e-6 error for kappa >= 50)
    pdf = lambda t: np.exp(kappa * (np.cos(t) - 1)) / (2 * np.pi * special.i0e(kappa))
    for xi in x[2:6]:
        q = integrate.quad(pdf, -np.pi, xi, points=[0.0] if xi > 0 else None, epsabs=1e-14, limit=200)[0]
        assert abs(q - vonmises_cdf(xi, kappa)) < 1e-10
    ref = stats.vonmises.ppf(u, kappa) if kappa > 0 else 2 * np.pi * u - np.pi
    assert np.allclose(x, ref, atol=2e-4, rtol=0)
    # vectorised over kappa too
    assert np.allclose(vonmises_ppf(u, np.full(u.shape, kappa)), x)


def test_same_beta_and_seed_same_scene_and_render():
    b = GEN.default_beta()
    for seed in range(3):
        a, c = GEN.generate(b, seed), GEN.generate(b, seed)
        assert all(np.array_equal(x, y) for x, y in zip(_arrays(a), _arrays(c)))
        assert a.meta == c.meta and a.lights == c.lights
    assert not np.array_equal(GEN.generate(b, 0).camera.pose, GEN.generate(b, 4).camera.pose)
    s = RenderedSampler(GEN, target="normals", image="rgb")
    x, y = s(b, 5), s(b, 5)
    assert all(np.array_equal(x[k], y[k]) for k in x)


def test_crn_antithetic_pairs_are_close_and_linear_in_delta():
    b = GEN.default_beta()
    rng = np.random.default_rng(0)
    direction = rng.standard_normal(b.shape)
    for seed in range(6):
        diffs = []
        for eps in (1e-2, 1e-3, 1e-4):
            plus, minus = GEN.generate(b + eps * direction, seed), GEN.generate(b - eps * direction, seed)
            diffs.append(max(np.abs(x - y).max() for x, y in zip(_arrays(plus), _arrays(minus))))
        assert diffs[2] < 1e-2, (seed, diffs)
        assert diffs[2] < 0.2 * diffs[1] < 0.04 * diffs[0] or diffs[2] < 1e-9, (seed, diffs)


def test_values_continuous_in_beta_and_jump_only_at_component_thresholds():
    sl = GEN.schema.slices()
    b = GEN.default_beta()
    path = np.linspace(-1.0, 1.0, 41)
    for name in ("obj_rot_kappa", "obj_shift_sd", "cam_rot_mu"):
        vals = []
        for t in path:
            bb = b.copy()
            bb[sl[name]] += t
            d = GEN.perturbation(bb, 7)
            vals.append(np.concatenate([d["obj_rot"].ravel(), d["obj_shift"].ravel(), d["cam_rot"]]))
        steps = np.abs(np.diff(vals, axis=0)).max()
        assert steps < 0.15, (name, steps)          # no jumps: the components do not change
        assert np.abs(vals[-1] - vals[0]).max() > 1e-3, name
    # moving the weights changes the component of some slots, and only those values jump
    d0 = GEN.perturbation(b, 7)
    bb = b.copy()
    bb[sl["obj_shift_w"]] += (-2.0, 2.0)
    d1 = GEN.perturbation(bb, 7)
    moved = d0["obj_shift_k"] != d1["obj_shift_k"]
    assert moved.any() and np.all(d1["obj_shift_k"][moved] == 1)
    assert np.array_equal(d0["obj_shift"][~moved], d1["obj_shift"][~moved])


def test_perturbation_statistics_follow_beta():
    g = PerturbedIndoorGenerator(num_scenes=4, max_objects=8)
    b = g.beta_from(weights=(0.7, 0.3), obj_shift_mu=((0.2, 0.05, -0.1), (-0.5, -0.02, 0.4)),
                    obj_shift_sd=((0.1, 0.03, 0.2), (0.05, 0.01, 0.3)), obj_rot_mu=((0.3, 0.1, -0.2), (-1.5, 0.0, 0.4)),
                    obj_rot_kappa=((50.0, 200.0, 30.0), (4.0, 100.0, 60.0)), cam_shift_mu=((0, 0.1, 0), (0.3, 0, -0.2)),
                    cam_shift_sd=((0.2, 0.05, 0.1), (0.1, 0.1, 0.1)),
                    cam_rot_mu=((0.1, -0.05, 0.0), (-0.4, 0.2, 0.3)), cam_rot_kappa=((200, 100, 400), (20, 30, 40)))
    p = g.schema.constrained(b)
    ds = [g.perturbation(b, s) for s in range(600)]
    obj_k = np.concatenate([d["obj_shift_k"] for d in ds])
    shift = np.concatenate([d["obj_shift"] for d in ds])
    rot_k = np.concatenate([d["obj_rot_k"] for d in ds])
    rot = np.concatenate([d["obj_rot"] for d in ds])
    n = len(obj_k)                                               # 4800 draws
    assert abs(np.mean(obj_k == 0) - 0.7) < 4 * np.sqrt(0.21 / n)
    assert abs(np.mean(rot_k == 0) - 0.7) < 4 * np.sqrt(0.21 / n)
    mu, sd = p["obj_shift_mu"].reshape(2, 3), p["obj_shift_sd"].reshape(2, 3)
    for k in range(2):
        x = shift[obj_k == k]
        assert np.all(np.abs(x.mean(0) - mu[k]) < 4 * sd[k] / np.sqrt(len(x)))
        assert np.allclose(x.std(0), sd[k], rtol=0.1)
    # the mixture as a whole
    w = np.array([0.7, 0.3])
    assert np.allclose(shift.mean(0), w @ mu, atol=0.03)
    for k in range(2):
        c = np.mean(np.exp(1j * rot[rot_k == k]), axis=0)
        kap = p["obj_rot_kappa"].reshape(2, 3)[k]
        assert np.allclose(np.angle(c), p["obj_rot_mu"].reshape(2, 3)[k], atol=0.06)
        assert np.allclose(np.abs(c), special.i1e(kap) / special.i0e(kap), atol=0.03)
    cam_k = np.array([d["cam_rot_k"] for d in ds])
    rot = np.array([d["cam_rot"] for d in ds])
    assert abs(np.mean(cam_k == 0) - 0.7) < 4 * np.sqrt(0.21 / len(ds))
    for k in range(2):
        c = np.mean(np.exp(1j * rot[cam_k == k]), axis=0)
        kap = p["cam_rot_kappa"].reshape(2, 3)[k]
        assert np.allclose(np.angle(c), p["cam_rot_mu"].reshape(2, 3)[k], atol=0.08)
        assert np.allclose(np.abs(c), special.i1e(kap) / special.i0e(kap), atol=0.02)
    ck = np.array([d["cam_shift_k"] for d in ds])
    cs = np.array([d["cam_shift"] for d in ds])
    mu3, sd3 = p["cam_shift_mu"].reshape(2, 3), p["cam_shift_sd"].reshape(2, 3)
    for k in range(2):
        assert np.all(np.abs(cs[ck == k].mean(0) - mu3[k]) < 4 * sd3[k] / np.sqrt(np.sum(ck == k)))
        assert np.allclose(cs[ck == k].std(0), sd3[k], rtol=0.2)


def test_scene_applies_the_sampled_offsets_on_the_floor():
    b = GEN.default_beta()
    for seed in range(4):
        base, cam = GEN.pick(seed)
        d = GEN.perturbation(b, seed)
        placements, clamped = GEN.place_objects(base, d)
        scene = GEN.generate(b, seed)
        off = len(base.room)
        for i, (o, (t, yaw, pitch, roll)) in enumerate(zip(base.objects, placements)):
            assert (yaw, pitch, roll) == pytest.approx(d["obj_rot"][i] + (o.yaw, 0, 0))
            if not clamped[i]:
                assert np.allclose(t[[0, 2]], o.translation[[0, 2]] + d["obj_shift"][i, [0, 2]])
            part = scene.meshes[off]
            off += len(o.parts)
            assert np.allclose(part.vertices, o.world_parts(t, yaw, pitch, roll)[0].vertices)
        assert np.allclose(scene.camera.pose[:3, 3], base.cameras[cam][:3, 3] + d["cam_shift"], atol=1e-9) \
            or scene.meta["perturbed"]


def test_large_perturbations_are_clamped_into_the_room():
    g = PerturbedIndoorGenerator(num_scenes=4, image_size=32)
    b = g.beta_from(obj_shift_sd=5.0, obj_rot_kappa=0.1, cam_shift_sd=5.0, cam_rot_kappa=0.1)
    clamped = 0
    for seed in range(8):
        base, _ = g.pick(seed)
        scene = g.generate(b, seed)
        clamped += scene.meta["clamped_objects"]
        lo, hi = base.bounds
        for part in scene.meshes[len(base.room):]:
            v = part.vertices
            assert v[:, 1].min() > -1e-9
            assert np.all(v[:, [0, 2]] > lo[[0, 2]] - 1e-6) and np.all(v[:, [0, 2]] < hi[[0, 2]] + 1e-6)
        eye = scene.camera.pose[:3, 3]
        assert np.all(eye >= lo + (0.15, 0.3, 0.15) - 1e-9) and np.all(eye <= hi - 0.15 + 1e-9)
        r = scene.camera.pose[:3, :3]
        assert np.allclose(r.T @ r, np.eye(3)) and abs(np.degrees(np.arcsin(-r[1, 2]))) <= 85 + 1e-6
    assert clamped > 0


def test_unperturbed_base_renders():
    b = GEN.default_beta()
    flat = dataclasses.replace(GEN, perturb=False)
    for seed in (0, 5, 9):
        base, cam = GEN.pick(seed)
        assert (base.name, cam) == (f"procedural_{seed % 4}", (seed // 4) % 3)
        x, y = GEN.generate_base(seed), flat.generate(b + 1.0, seed)
        assert all(np.array_equal(p, q) for p, q in zip(_arrays(x), _arrays(y)))
        assert np.array_equal(x.camera.pose, base.cameras[cam])
        assert not np.array_equal(GEN.generate(b, seed).camera.pose, x.camera.pose)
    # disjoint scene sets
    assert PerturbedIndoorGenerator(num_scenes=4, first_scene=4).pick(1)[0].name == "procedural_5"


def test_rendered_sampler_pickles_and_renders_normals(tmp_path):
    s = pickle.loads(pickle.dumps(RenderedSampler(GEN, target="normals", image="rgb")))
    b = s.default_beta()
    out = s(b, 3)
    assert out["image"].shape == (32, 32, 3) and out["target"].shape == (32, 32, 3)
    m = out["mask"][..., 0] > 0
    assert m.mean() > 0.99 and np.all(np.isfinite(out["image"]))
    assert np.allclose(np.linalg.norm(out["target"][m], axis=1), 1, atol=1e-4)
    assert out["image"][m].std() > 0.03
    # base scenes from a folder go through the same generator
    from hg_jax.generators.indoor import procedural_scene
    from hg_jax.generators.scene_files import save_base_scene

    folder = save_base_scene(procedural_scene(1), str(tmp_path / "room1"))
    g = PerturbedIndoorGenerator(base_scenes=(folder,), image_size=32)
    assert g.num_scenes == 1 and g.pick(2)[1] == 2
    out = RenderedSampler(g, target="depth", image="gray")(g.default_beta(), 2)
    assert out["target"].shape == (32, 32, 1) and out["target"].max() > 0.5
    with pytest.raises(ValueError, match="base_scenes"):
        PerturbedIndoorGenerator(base_scenes="rooms/")


# ---- objects in six degrees of freedom ------------------------------------------------------------
def _object_points(g, b, seed, local):
    """World position of the object-local point ``local(o)`` of every object, and the placements."""
    base, _ = g.pick(seed)
    placements, _ = g.place_objects(base, g.perturbation(b, seed))
    pts = []
    for o, (t, yaw, pitch, roll) in zip(base.objects, placements):
        part = dataclasses.replace(o.parts[0], vertices=np.asarray([local(o)], np.float64))
        pts.append(dataclasses.replace(o, parts=(part,)).world_parts(t, yaw, pitch, roll)[0].vertices[0])
    return base, placements, np.array(pts)


def test_object_pitch_and_roll_means_tilt_objects_the_documented_way():
    g = PerturbedIndoorGenerator(num_scenes=4, image_size=32)
    upright = g.beta_from(obj_shift_sd=1e-6, obj_rot_kappa=1e8)
    for name, angle in (("pitch", 0.3), ("roll", -0.25)):
        mu = (0.0, angle, 0.0) if name == "pitch" else (0.0, 0.0, angle)
        tilted = g.beta_from(obj_shift_sd=1e-6, obj_rot_kappa=1e8, obj_rot_mu=(mu,))
        for seed in range(4):
            base, placed, top = _object_points(g, tilted, seed, lambda o: (0.0, o.height, 0.0))
            _, _, foot = _object_points(g, tilted, seed, lambda o: (0.0, 0.0, 0.0))
            _, flat, _ = _object_points(g, upright, seed, lambda o: (0.0, 0.0, 0.0))
            for o, p, q, t, f in zip(base.objects, placed, flat, top, foot):
                assert p[1] == pytest.approx(q[1], abs=1e-3)  # the same yaw: only the tilt moved
                up = (t - f) / o.height                       # the object's turned up axis
                assert np.degrees(np.arccos(np.clip(up[1], -1, 1))) == pytest.approx(np.degrees(abs(angle)), abs=0.1)
                front = np.array([np.sin(p[1]), 0.0, np.cos(p[1])])     # R_y(yaw) · local +Z
                left = -np.array([np.cos(p[1]), 0.0, -np.sin(p[1])])    # R_y(yaw) · local −X
                lean = up @ (front if name == "pitch" else left)
                assert lean == pytest.approx(np.sin(angle), abs=1e-3)   # κ = 1e8: ~1e-4 rad of noise


def test_object_y_mean_lifts_objects_and_a_negative_one_leaves_them_on_the_floor():
    g = PerturbedIndoorGenerator(num_scenes=4, image_size=32)
    for seed in range(4):
        lows = {}
        for y in (-0.2, 0.0, 0.15):
            b = g.beta_from(obj_shift_sd=1e-9, obj_rot_kappa=1e9, obj_shift_mu=((0.0, y, 0.0),))
            base, _ = g.pick(seed)
            scene = g.generate(b, seed)
            off, low = len(base.room), []
            for o in base.objects:
                v = np.concatenate([p.vertices for p in scene.meshes[off:off + len(o.parts)]])
                off += len(o.parts)
                low.append(v[:, 1].min())
            lows[y] = np.array(low)
        floor = base.bounds[0, 1]
        # κ = 1e9 still tilts by ~3e-5 rad: the turned box, not a vertex, touches the floor
        np.testing.assert_allclose(lows[-0.2], floor, atol=2e-5)          # resting, not sunk
        np.testing.assert_allclose(lows[0.0], floor, atol=2e-5)
        np.testing.assert_allclose(lows[0.15], floor + 0.15, atol=2e-5)   # lifted by the mean


def test_tilted_objects_rest_on_the_floor_below_the_ceiling_and_inside_the_walls():
    g = PerturbedIndoorGenerator(num_scenes=4, image_size=32)
    b = g.beta_from(obj_shift_sd=((0.5, 1e-6, 0.5),), obj_shift_mu=((0.0, -0.1, 0.0),),
                    obj_rot_kappa=((10.0, 3.0, 3.0),))
    rested = 0
    for seed in range(8):
        base, _ = g.pick(seed)
        scene = g.generate(b, seed)
        lo, hi = base.bounds
        off = len(base.room)
        for o in base.objects:
            v = np.concatenate([p.vertices for p in scene.meshes[off:off + len(o.parts)]])
            off += len(o.parts)
            assert v[:, 1].min() > lo[1] - 1e-9 and np.all(v[:, [0, 2]] > lo[[0, 2]] - 1e-6) \
                and np.all(v[:, [0, 2]] < hi[[0, 2]] + 1e-6)
            if o.height < hi[1] - lo[1] - 0.5:
                assert v[:, 1].max() < hi[1] + 1e-6
            rested += abs(v[:, 1].min() - lo[1]) < 1e-6
    assert rested > 20


def test_object_placement_is_continuous_across_every_clamp():
    """Sweeping a mean through the wall, floor and tilt clamps moves every vertex by steps that
    shrink with the sweep's step: the clamps bend the path, never break it."""
    g = PerturbedIndoorGenerator(num_scenes=4, image_size=32)
    for mu in (lambda t: (3.0 * t, 0.0, 0.0), lambda t: (0.0, 0.3 * t, 0.0), lambda t: (0.0, 0.0, 3.0 * t)):
        for rot in ((0.0, 0.0, 0.0), (0.0, 0.4, -0.3)):
            steps = []
            for n in (41, 81):
                verts = []
                for t in np.linspace(-1.0, 1.0, n):
                    b = g.beta_from(obj_shift_sd=1e-6, obj_rot_kappa=1e8, obj_shift_mu=(mu(t),), obj_rot_mu=(rot,))
                    scene = g.generate(b, 1)
                    verts.append(np.concatenate([p.vertices for p in scene.meshes]))
                steps.append(np.abs(np.diff(verts, axis=0)).max())
            assert steps[1] < 0.6 * steps[0] + 1e-9 and steps[0] < 0.2, steps


def test_default_beta_keeps_the_base_scenes_nearly_unchanged():
    b = GEN.default_beta()
    tilts, lifts = [], []
    for seed in range(8):
        base, _ = GEN.pick(seed)
        d = GEN.perturbation(b, seed)
        placements, _ = GEN.place_objects(base, d)
        for o, (t, yaw, pitch, roll) in zip(base.objects, placements):
            tilts.append(np.degrees(max(abs(pitch), abs(roll))))
            lifts.append(t[1] - o.translation[1])
        # the x, z and yaw draws of a seed are those of the grammar before y, pitch and roll
        rng = np.random.default_rng(seed)
        rng.uniform(size=(GEN.max_objects, 2))
        z_xz = rng.standard_normal((GEN.max_objects, 2))
        v_yaw = rng.uniform(size=(GEN.max_objects, 1))
        r = GEN.draws(seed)
        assert np.array_equal(r["obj_z"][:, [0, 2]], z_xz) and np.array_equal(r["obj_v"][:, :1], v_yaw)
    assert np.percentile(tilts, 99) < 5.0 and np.max(np.abs(lifts)) < 0.1
