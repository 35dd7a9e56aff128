"""Face scans: landmark parsing, normalisation into the model frame, re-rendering protocol, splits."""
import json
import os

import numpy as np
import pytest

from hg_jax.data import scans
from hg_jax.generators.faces import FaceGenerator, get_model, rotation_matrix


@pytest.fixture(scope="module")
def ict(shared_data):
    return get_model("")


def _write_obj(path, v, f):
    with open(path, "w") as fh:
        fh.write("".join(f"v {a:.9f} {b:.9f} {c:.9f}\n" for a, b, c in v))
        fh.write("".join(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in f))


def _similar(v, s=10.0, yaw_deg=12.0, t=(30.0, -40.0, 500.0)):
    r = rotation_matrix(np.radians(yaw_deg), np.radians(-5.0), np.radians(4.0))
    return s * v @ r.T + np.asarray(t)


def test_umeyama_recovers_similarity():
    rng = np.random.default_rng(0)
    src = rng.standard_normal((6, 3))
    r = rotation_matrix(0.3, -0.2, 0.1)
    dst = 2.5 * src @ r.T + [1.0, 2.0, 3.0]
    s, rot, t = scans.umeyama(src, dst)
    assert s == pytest.approx(2.5) and np.allclose(rot, r) and np.allclose(t, [1, 2, 3])


def test_similarity_normalisation_recovers_model_frame(tmp_path, ict):
    """A copy of the ICT neutral face in mm, turned and moved, with iBUG-68 landmarks (LJSON v2,
    unlabelled), normalises back onto the neutral face."""
    v = _similar(ict.mean)
    _write_obj(tmp_path / "a.obj", v, ict.triangles)
    lm = v[ict.landmarks68]
    (tmp_path / "a.ljson").write_text(json.dumps({"version": 2, "landmarks": {"points": lm.tolist()}}))
    scan = scans.load_scan(str(tmp_path / "a.obj"), ict, crop_margin_cm=None)
    assert scan.align == "similarity"
    np.testing.assert_allclose(scan.parts[0].vertices, ict.mean, atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(scan.transform[:3, :3]) ** (1 / 3), 0.1, rtol=1e-6)  # mm -> cm


def test_labelled_ljson_v3_any_order(tmp_path, ict):
    """menpo LJSON v3 with labelled groups in a non-iBUG order (as james.ljson) and left/right labels
    swapped: groups are matched by label and eyes/brows by x, so the result is the same."""
    v = _similar(ict.mean, s=1.0, yaw_deg=-7.0)
    _write_obj(tmp_path / "b.obj", v, ict.triangles)
    lm = v[ict.landmarks68]
    order = {"chin": range(0, 17), "leye": range(42, 48), "reye": range(36, 42), "leyebrow": range(22, 27),
             "nose": range(27, 36), "reyebrow": range(17, 22), "mouth": range(48, 68)}
    pts, labels = [], []
    for name, idx in order.items():
        labels.append({"label": name, "mask": list(range(len(pts), len(pts) + len(idx)))})
        pts += lm[list(idx)].tolist()
    pts[3] = None                                                   # a missing landmark is allowed
    doc = {"version": 3, "groups": {"LJSON": {"landmarks": {"points": pts, "connectivity": []},
                                              "labels": labels}}}
    (tmp_path / "b.ljson").write_text(json.dumps(doc))
    got = scans.read_ljson(str(tmp_path / "b.ljson"))
    assert got["points"].shape == (68, 3) and np.isnan(got["points"][3]).all() and "mouth" in got["labels"]
    scan = scans.load_scan(str(tmp_path / "b.obj"), ict, crop_margin_cm=None)
    np.testing.assert_allclose(scan.parts[0].vertices, ict.mean, atol=1e-5)


def test_json_orientation_override_and_scale_align(tmp_path, ict):
    """A Z-up file, told so by <stem>.json, with align='scale': rotated into +Y up, +Z forward."""
    to_file = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], float)     # model (x, y, z) -> file (x, -z, y)
    v = 10.0 * ict.mean @ to_file.T + [5.0, 5.0, 5.0]
    _write_obj(tmp_path / "c.obj", v, ict.triangles)
    lm = v[ict.landmarks68]
    (tmp_path / "c.ljson").write_text(json.dumps({"landmarks": {"points": lm.tolist()}}))
    (tmp_path / "c.json").write_text(json.dumps({"up": [0, 0, 1], "forward": [0, -1, 0], "align": "scale",
                                                 "crop_margin_cm": None}))
    scan = scans.load_scan(str(tmp_path / "c.obj"), ict)
    assert scan.align == "scale"
    np.testing.assert_allclose(scan.parts[0].vertices, ict.mean, atol=1e-5)


def test_bbox_fallback(tmp_path, ict):
    """Without landmarks: bounding-box centre and height match the model's, no rotation."""
    v = 10.0 * ict.mean + [1.0, 2.0, 3.0]
    _write_obj(tmp_path / "d.obj", v, ict.triangles)
    scan = scans.load_scan(str(tmp_path / "d.obj"), ict, crop_margin_cm=None)
    assert scan.align == "bbox"
    np.testing.assert_allclose(scan.parts[0].vertices, ict.mean, atol=1e-6)
    (tmp_path / "d.json").write_text(json.dumps({"units_to_cm": 0.05}))     # explicit scale wins
    v2 = scans.load_scan(str(tmp_path / "d.obj"), ict, crop_margin_cm=None).parts[0].vertices
    np.testing.assert_allclose(0.5 * (v2.min(0) + v2.max(0)), 0.5 * (ict.mean.min(0) + ict.mean.max(0)), atol=1e-6)
    assert np.ptp(v2[:, 1]) == pytest.approx(0.5 * np.ptp(ict.mean[:, 1]))


def test_crop_removes_geometry_outside_the_model_box(tmp_path, ict):
    """A stray 'back of the head' triangle 30 cm behind the face is cropped; the face is kept whole."""
    v = _similar(ict.mean)
    behind = _similar(np.array([[0.0, 0.0, -30.0], [1.0, 0.0, -30.0], [0.0, 1.0, -30.0]]))
    _write_obj(tmp_path / "e.obj", np.vstack([v, behind]),
               np.vstack([ict.triangles, [[len(v), len(v) + 1, len(v) + 2]]]))
    (tmp_path / "e.ljson").write_text(json.dumps({"landmarks": {"points": v[ict.landmarks68].tolist()}}))
    full = scans.load_scan(str(tmp_path / "e.obj"), ict, crop_margin_cm=None).parts[0]
    cut = scans.load_scan(str(tmp_path / "e.obj"), ict, crop_margin_cm=1.0).parts[0]
    assert len(full.faces) == len(ict.triangles) + 1 and len(full.vertices) == len(ict.mean) + 3
    assert len(cut.faces) == len(ict.triangles) and len(cut.vertices) == len(ict.mean)
    np.testing.assert_allclose(cut.vertices, ict.mean, atol=1e-5)


def test_james_normalisation(shared_data, ict):
    root = os.path.join(shared_data, "faces", "scans")
    [scan] = scans.load_scans(root, ict)
    assert scan.name == "james" and scan.align == "similarity"
    assert scan.parts[0].texture is not None and scan.parts[0].uv is not None
    ref = ict.anchors()
    for k in ("eye_left", "eye_right", "nose", "mouth"):
        assert np.linalg.norm(scan.landmarks[k] - ref[k]) < 0.6, k          # within 6 mm of the model's
    s = np.linalg.det(scan.transform[:3, :3]) ** (1 / 3)
    assert 0.08 < s < 0.12                                              # the file is in millimetres


def test_render_protocol_and_split(shared_data):
    root = os.path.join(shared_data, "faces", "scans")
    views = scans.render_scans(root, size=32)
    assert views["image"].shape == (27, 32, 32, 1) and views["target"].shape == (27, 32, 32, 1)
    assert views["mask"].shape == (27, 32, 32, 1) and len(set(views["names"])) == 27
    assert views["names"][0] == "james/yaw-30_pitch-15/light0"
    m = views["mask"][..., 0] > 0
    d = views["target"][..., 0]
    assert np.all(d[m] > 0) and np.all(d[~m] == 0)
    frac = m.mean(axis=(1, 2))
    assert np.all((frac > 0.15) & (frac < 0.9))
    # depth comparable with the generator's: same camera, cm
    gen = FaceGenerator(image_size=32)
    assert 45 < np.median(d[m]) < 65
    # the three lights give different images of the same geometry
    np.testing.assert_array_equal(views["target"][0], views["target"][1])
    assert np.abs(views["image"][0] - views["image"][2]).max() > 0.05
    # the frontal view's mask is roughly centred
    cols = np.arange(32)
    cx = [(m[i] * cols).sum() / m[i].sum() for i in range(27)]
    front = 4 * 3
    assert abs(cx[front] - 15.5) < 2.5
    # the nose tip (nearest pixel) moves left with yaw -30 and right with yaw +30 (pitch 0, light 0)
    near = [np.unravel_index(np.argmin(np.where(m[i], d[i], np.inf)), d[i].shape)[1] for i in range(27)]
    assert near[3 * 1] < near[3 * 4] < near[3 * 7]
    assert gen.image_size == 32
    val, test = scans.split_views(views, "validation"), scans.split_views(views, "test")
    assert len(val["names"]) == 12 and len(test["names"]) == 15
    assert not set(val["pose"]) & set(test["pose"])
    assert set(val["pose"]) | set(test["pose"]) == set(range(9))
    assert set(val["light"]) == set(test["light"]) == {0, 1, 2}
    assert val["image"].shape == (12, 32, 32, 1)


def test_split_by_scan_with_several_scans():
    n_scans, per = 3, 27
    views = {"scan": np.repeat(np.arange(n_scans), per), "pose": np.tile(np.repeat(np.arange(9), 3), n_scans),
             "light": np.tile(np.arange(3), 9 * n_scans), "names": np.arange(n_scans * per)}
    val, test = scans.split_views(views, "validation"), scans.split_views(views, "test")
    assert set(val["scan"]) == {0, 2} and set(test["scan"]) == {1}
    assert len(val["names"]) + len(test["names"]) == n_scans * per
    with pytest.raises(ValueError, match="split"):
        scans.split_views(views, "train")
