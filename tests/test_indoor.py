"""Procedural base indoor scenes and scene folders (NYU experiment, paper §5.2)."""
import json
import os

import numpy as np
import pytest
import trimesh

from hg_jax.generators import indoor
from hg_jax.generators.indoor import (NYU_INTRINSICS, camera_angles, camera_pose, procedural_scene,
                                      rects_overlap, scale_intrinsics)
from hg_jax.generators.scene_files import load_base_scene, save_base_scene

IDS = range(12)


def _world(o):
    return np.concatenate([p.vertices for p in o.world_parts()])


def test_same_id_same_scene_and_ids_differ():
    a, b = procedural_scene(3), procedural_scene(3)
    assert len(a.objects) == len(b.objects)
    for pa, pb in zip(a.to_scene(0, 32, 32).meshes, b.to_scene(0, 32, 32).meshes):
        assert np.array_equal(pa.vertices, pb.vertices) and np.array_equal(pa.faces, pb.faces)
        assert pa.color == pb.color
    assert all(np.array_equal(c, d) for c, d in zip(a.cameras, b.cameras)) and a.lights == b.lights
    assert not np.allclose(a.bounds, procedural_scene(4).bounds)


def test_rooms_furniture_on_floor_inside_and_not_overlapping():
    kinds = set()
    for i in IDS:
        b = procedural_scene(i)
        W, H, D = b.bounds[1]
        assert 3 <= W <= 7 and 3 <= D <= 6 and 2.4 <= H <= 3.0
        assert 3 <= len(b.objects) and b.num_triangles < 2000
        assert b.meta["openings"] and any(o[5] == "door" for o in b.meta["openings"])
        for o in b.objects:
            kinds.add(o.name.rsplit("_", 1)[0])
            v = _world(o)
            assert abs(v[:, 1].min()) < 1e-9, (i, o.name)                  # standing on the floor
            assert v[:, 1].max() < H
            assert v[:, 0].min() > -1e-6 and v[:, 0].max() < W + 1e-6, (i, o.name)
            assert v[:, 2].min() > -1e-6 and v[:, 2].max() < D + 1e-6, (i, o.name)
            # the stored footprint covers the geometry
            local = np.concatenate([p.vertices for p in o.parts])
            assert np.all(np.abs(local[:, 0]) <= o.half_extents[0] + 1e-9)
            assert np.all(np.abs(local[:, 2]) <= o.half_extents[1] + 1e-9)
            assert np.abs(local[:, 1].max() - o.height) < 1e-9
        for j, a in enumerate(b.objects):
            for c in b.objects[j + 1:]:
                assert not rects_overlap(*a.footprint(), *c.footprint()), (i, a.name, c.name)
    assert len(kinds) >= 6, kinds


def test_rects_overlap_is_a_real_test():
    assert rects_overlap((0, 0), (1, 0.5), 0.0, (1.9, 0), (1, 0.5), 0.0)
    assert not rects_overlap((0, 0), (1, 0.5), 0.0, (2.1, 0), (1, 0.5), 0.0)
    assert rects_overlap((0, 0), (1, 0.5), 0.0, (2.1, 0), (1, 0.5), 0.0, margin=0.3)
    # yaw pi/4 turns local +x to world (x, z) = (1, -1)/sqrt(2): the long side reaches (-0.6, 0.6)
    assert rects_overlap((0, 0), (1, 0.1), np.pi / 4, (-0.6, 0.6), (0.1, 0.1), 0.0)
    assert not rects_overlap((0, 0), (1, 0.1), np.pi / 4, (0.6, 0.6), (0.1, 0.1), 0.0)
    assert rects_overlap((0, 0), (1, 0.1), -np.pi / 4, (0.6, 0.6), (0.1, 0.1), 0.0)


def test_cameras_at_eye_height_pitched_down_inside_the_room():
    n = 0
    for i in IDS:
        b = procedural_scene(i)
        assert len(b.cameras) == 3
        for pose in b.cameras:
            eye = pose[:3, 3]
            yaw, pitch, roll = camera_angles(pose)
            assert 1.4 <= eye[1] <= 1.7
            assert -25.001 <= np.degrees(pitch) <= -9.999 and abs(roll) < 1e-9
            assert np.all(eye[[0, 2]] >= b.bounds[0, [0, 2]] + 0.5 - 1e-9)
            assert np.all(eye[[0, 2]] <= b.bounds[1, [0, 2]] - 0.5 + 1e-9)
            n += sum(rects_overlap(eye[[0, 2]], (0.05, 0.05), 0.0, *o.footprint()) for o in b.objects)
    assert n == 0


def test_camera_angles_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y, p, r = rng.uniform(-3, 3), rng.uniform(-1.4, 1.4), rng.uniform(-3, 3)
        pose = camera_pose((1, 2, 3), y, p, r)
        assert np.allclose(camera_angles(pose), (y, p, r), atol=1e-9)
    # yaw 0, pitch -> looks down -Z and below the horizon
    f = -camera_pose((0, 0, 0), 0.0, -0.3)[:3, 2]
    assert np.allclose(f, (0, np.sin(-0.3), -np.cos(0.3)))


def test_nyu_intrinsics_scale_with_the_image():
    fx, fy, cx, cy = scale_intrinsics(NYU_INTRINSICS, 64, 64)
    assert np.degrees(2 * np.arctan(32 / fx)) == pytest.approx(63.3, abs=0.2)
    assert fx == pytest.approx(518.86 * 0.1) and fy == pytest.approx(519.47 * 0.1)
    assert cx == pytest.approx(32 + 0.558) and cy == pytest.approx(32 + 1.374)
    assert scale_intrinsics(NYU_INTRINSICS, 640, 480) == pytest.approx(NYU_INTRINSICS[:4])


def test_render_normals_unit_and_floor_points_up():
    from hg_jax.render.pyrender_backend import get_renderer

    for i, cam in ((0, 0), (2, 1)):
        b = procedural_scene(i)
        scene = b.to_scene(cam, 48, 48)
        r = get_renderer(48, 48)
        out = r.render(scene)
        assert out["mask"].mean() > 0.99                     # a closed room: every pixel hits something
        n = out["normals"][out["mask"]]
        assert np.allclose(np.linalg.norm(n, axis=1), 1, atol=1e-4)
        floor = out["mask"] & (out["face"] < len(b.room[0].faces))
        assert floor.mean() > 0.05
        world = out["normals"][floor] @ np.asarray(b.cameras[cam])[:3, :3].T
        assert np.allclose(world, (0, 1, 0), atol=1e-4)
        rays = r._pixel_rays(scene)[out["mask"]]                # camera frame, towards the scene
        assert np.all(np.einsum("ij,ij->i", n, rays) < 1e-6)    # every seen face faces the camera
        lum = out["color"][out["mask"]].mean(1)
        assert lum.std() > 0.03 and lum.max() < 1.0            # shading varies, not saturated


def test_scene_folder_round_trip(tmp_path):
    from hg_jax.render.pyrender_backend import get_renderer

    b = procedural_scene(5)
    save_base_scene(b, str(tmp_path / "s"))
    c = load_base_scene(str(tmp_path / "s"))
    assert sorted(o.name for o in c.objects) == sorted(o.name for o in b.objects)
    assert np.allclose(c.bounds, b.bounds) and c.intrinsics == b.intrinsics and len(c.cameras) == 3
    assert all(np.allclose(p, q) for p, q in zip(b.cameras, c.cameras))
    by_name = {o.name: o for o in c.objects}
    for o in b.objects:
        vb, vc = _world(o), _world(by_name[o.name])
        assert np.allclose(vb.min(0), vc.min(0), atol=1e-6) and np.allclose(vb.max(0), vc.max(0), atol=1e-6)
        assert abs(by_name[o.name].translation[1]) < 1e-9
    ra = get_renderer(32, 32).render(b.to_scene(1, 32, 32))
    rb = get_renderer(32, 32).render(c.to_scene(1, 32, 32))
    assert np.array_equal(ra["mask"], rb["mask"])
    assert np.mean(np.abs(ra["normals"] - rb["normals"]) < 1e-3) > 0.98
    assert np.abs(ra["albedo"] - rb["albedo"]).mean() < 0.01


def test_scene_folder_glb_nodes_and_eye_target_cameras(tmp_path):
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.creation.box((4, 0.1, 4)), node_name="floor",
                       transform=trimesh.transformations.translation_matrix((2, -0.05, 2)))
    chair = trimesh.creation.box((0.5, 0.9, 0.5))
    chair.visual.face_colors = (200, 30, 30, 255)
    scene.add_geometry(chair, node_name="chair", transform=trimesh.transformations.translation_matrix((1, 0.45, 3)))
    scene.export(str(tmp_path / "room.glb"))
    trimesh.creation.icosphere(1, 0.3).apply_translation((3, 0.3, 1)).export(str(tmp_path / "ball.obj"))
    with open(tmp_path / "cameras.json", "w") as fh:
        json.dump({"cameras": [{"eye": [2, 1.5, 0.5], "target": [2, 0.5, 3]}, np.eye(4).tolist()],
                   "intrinsics": [500, 500, 320, 240, 640, 480]}, fh)
    b = load_base_scene(str(tmp_path))
    assert sorted(o.name for o in b.objects) == ["ball", "chair"] and len(b.room) == 1
    chair = {o.name: o for o in b.objects}["chair"]
    assert np.allclose(chair.translation, (1, 0, 3), atol=1e-6)
    assert np.allclose(chair.half_extents, (0.25, 0.25)) and chair.height == pytest.approx(0.9)
    assert chair.parts[0].color[0] > 0.5 > chair.parts[0].color[1]
    assert np.allclose(b.cameras[0][:3, 3], (2, 1.5, 0.5)) and b.intrinsics[0] == 500
    assert np.allclose(b.bounds, [[0, -0.1, 0], [4, 0, 4]])


def test_scene_folder_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="cameras.json"):
        load_base_scene(str(tmp_path))
    (tmp_path / "cameras.json").write_text("[[1, 0, 0]]")
    with pytest.raises(ValueError, match=r"cameras.json: camera 0: .*4x4"):
        load_base_scene(str(tmp_path))
    (tmp_path / "cameras.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_base_scene(str(tmp_path))
    (tmp_path / "cameras.json").write_text(json.dumps([np.eye(4).tolist()]))
    with pytest.raises(ValueError, match="no mesh files"):
        load_base_scene(str(tmp_path))
    (tmp_path / "bad.obj").write_text("this is not an obj\n")
    with pytest.raises(ValueError, match="bad.obj"):
        load_base_scene(str(tmp_path))
    os.remove(tmp_path / "bad.obj")
    trimesh.creation.box().export(str(tmp_path / "box.ply"))
    (tmp_path / "cameras.json").write_text(json.dumps({"cameras": [np.eye(4).tolist()], "lens": 1}))
    with pytest.raises(ValueError, match="unknown keys.*lens"):
        load_base_scene(str(tmp_path))
    (tmp_path / "cameras.json").write_text(json.dumps({"cameras": [(2 * np.eye(4)).tolist()]}))
    with pytest.raises(ValueError, match="not a rotation"):
        load_base_scene(str(tmp_path))
