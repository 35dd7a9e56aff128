"""NYU Depth V2 loaders (hg_jax/data/nyu.py): the labelled .mat's transposed layout, splits.mat's
1-based indices, the normals_gt numbering, the axes of normals_gt and of Zhang et al.'s predictions
(synthetic fixtures of known direction, and the 5 real predictions), missing / invalid files."""
import os
import struct
import zlib

import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image

from hg_jax.data import nyu, rgbd

H, W, N = 60, 80, 4          # frame size (rows, cols) and frame count of the fixture .mat
SIZE = 16
# One plane per frame, unit normal in the canonical frame (+X right, +Y up, +Z towards the viewer):
# the depth normals of frame i identify it.
PLANES = np.array([[0.3, 0.2, 0.93], [-0.4, 0.1, 0.91], [0.1, -0.5, 0.86], [0.5, 0.5, 0.71]])
PLANES /= np.linalg.norm(PLANES, axis=1, keepdims=True)
# A direction facing right, up and towards the viewer, and how each format stores it.
CANON = np.array([0.48, 0.6, 0.64])
STORED_GT = CANON                                     # normals_gt: channels = x, y, z
STORED_ZHANG = np.array([0.48, -0.64, 0.6])           # Zhang: X right, Y forward (= −z), Z up (= y)


def _angle(a, b):
    return np.degrees(np.arccos(np.clip(np.sum(a * b, -1), -1, 1)))


def _plane_depth(n):
    K = rgbd.NYU_RGB
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    rays = np.stack([(u - K["cx"]) / K["fx"], -(v - K["cy"]) / K["fy"], -np.ones_like(u)], -1)
    p0 = 2.5 * rays[H // 2, W // 2]
    return (n @ p0) / (rays @ n)                      # depth = t, as z = −t on these rays


@pytest.fixture(scope="module")
def mat(tmp_path_factory):
    """A small nyu_depth_v2_labeled.mat: MATLAB v7.3 (HDF5), arrays stored transposed."""
    d = tmp_path_factory.mktemp("nyu")
    y, x = np.mgrid[0:H, 0:W]
    images = np.zeros((N, 3, W, H), np.uint8)
    depths = np.zeros((N, W, H), np.float32)
    raw = np.zeros((N, W, H), np.float32)
    for i in range(N):
        img = np.stack([x * 255 // (W - 1), y * 255 // (H - 1), np.full_like(x, 20 + 40 * i)], -1)
        images[i] = img.astype(np.uint8).transpose(2, 1, 0)
        depths[i] = _plane_depth(PLANES[i]).T
        r = _plane_depth(PLANES[i])
        if i == 1:
            r[: H // 2] = 0                           # not measured in the top half
        raw[i] = r.T
    path = str(d / "nyu_depth_v2_labeled.mat")
    with h5py.File(path, "w") as f:
        f["images"], f["depths"], f["rawDepths"] = images, depths, raw
    # 1-based, as in the release: train = frames 0, 2; test = frames 1, 3 (0-based)
    scipy.io.savemat(str(d / "splits.mat"), {"trainNdxs": np.array([[1], [3]], np.float64),
                                             "testNdxs": np.array([[2], [4]], np.float64)})
    return path


def test_splits_are_converted_to_zero_based(mat):
    sp = nyu.read_splits(os.path.join(os.path.dirname(mat), "splits.mat"))
    assert sp["train"].tolist() == [0, 2] and sp["test"].tolist() == [1, 3]


def test_load_labeled_reads_the_transposed_layout(mat):
    rs = nyu.load_labeled(mat, indices=[2, 0], size=SIZE)
    assert rs["names"] == ["nyu_0002", "nyu_0000"]
    assert rs["image"].shape == (2, SIZE, SIZE, 3) and rs["target"].shape == (2, SIZE, SIZE, 3)
    img = rs["image"][0]
    assert (np.diff(img[..., 0].mean(0)) > 0).all()   # red grows to the right
    assert (np.diff(img[..., 1].mean(1)) > 0).all()   # green grows downwards
    for k, i in enumerate([2, 0]):                    # each frame's own plane, facing the camera
        m = rs["mask"][k, ..., 0] > 0
        assert m.mean() > 0.5
        assert _angle(rs["target"][k][m], PLANES[i]).max() < 1.0


def test_split_selection_and_raw_depth_mask(mat):
    for split, want in (("test", [1, 3]), ("train", [0, 2]), ("all", [0, 1, 2, 3])):
        rs = nyu.load_labeled(mat, split=split, size=SIZE)
        assert rs["names"] == [f"nyu_{i:04d}" for i in want]
        for k, i in enumerate(want):
            m = rs["mask"][k, ..., 0] > 0
            assert _angle(rs["target"][k][m], PLANES[i]).max() < 1.0
    m = nyu.load_labeled(mat, indices=[1], size=SIZE)["mask"][0, ..., 0] > 0
    assert not m[: SIZE // 2].any() and m[SIZE // 2 + 1:].mean() > 0.5   # rawDepths == 0: unmeasured


def test_cache_dir(mat, tmp_path, monkeypatch):
    first = nyu.load_labeled(mat, indices=[3], size=SIZE, cache_dir=str(tmp_path / "cache"))
    assert len(os.listdir(tmp_path / "cache")) == 1

    def boom(*a, **k):
        raise AssertionError("normals recomputed despite the cache")
    monkeypatch.setattr(rgbd, "normals_from_depth", boom)
    again = nyu.load_labeled(mat, indices=[3], size=SIZE, cache_dir=str(tmp_path / "cache"))
    np.testing.assert_array_equal(first["target"], again["target"])
    np.testing.assert_array_equal(first["mask"], again["mask"])


def _write_png16(path, a):
    """16-bit RGB PNG (Pillow cannot write one)."""
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in a)

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _encode(v, bits):
    return np.round((np.asarray(v) + 1) / 2 * (2 ** bits - 1)).astype(np.uint16 if bits == 16 else np.uint8)


@pytest.mark.parametrize("bits", [8, 16])
def test_zhang_layout_gives_the_canonical_vector(tmp_path, bits):
    path = str(tmp_path / "0000_normal_est.png")
    a = np.broadcast_to(_encode(STORED_ZHANG, bits), (6, 8, 3)).copy()
    if bits == 16:
        _write_png16(path, a)
    else:
        Image.fromarray(a).save(path)
    n, ok = nyu.read_normal_png(path, nyu.ZHANG_AXES)
    assert ok.all() and _angle(n, CANON).max() < (1.0 if bits == 8 else 0.01)
    n_wrong, _ = nyu.read_normal_png(path, nyu.CANONICAL_AXES)
    assert _angle(n_wrong, CANON).min() > 30


def _normals_gt(folder, numbers, masked_frame=None):
    """normals/%04d.png (file k holds the direction of frame k − numbers[0]) and masks/%04d.png."""
    os.makedirs(os.path.join(folder, "normals"))
    os.makedirs(os.path.join(folder, "masks"))
    for i, k in enumerate(numbers):
        v = STORED_GT if i == 2 else PLANES[i]
        Image.fromarray(np.broadcast_to(_encode(v, 8), (H, W, 3)).copy()).save(
            os.path.join(folder, "normals", f"{k:04d}.png"))
        mask = np.full((H, W), 255, np.uint8)
        if i == masked_frame:
            mask[:, : W // 2] = 0
        Image.fromarray(mask).save(os.path.join(folder, "masks", f"{k:04d}.png"))
    return str(folder)


@pytest.mark.parametrize("first", [0, 1])
def test_normals_gt_numbering_and_axes(mat, tmp_path, first):
    gt = _normals_gt(tmp_path / "gt", range(first, first + N), masked_frame=1)
    npath, _ = nyu.normals_gt_path(gt, 2)
    assert npath.endswith(f"{2 + first:04d}.png")
    rs = nyu.load_labeled(mat, indices=[2, 3, 1], size=SIZE, normals=gt)
    m = rs["mask"][..., 0] > 0
    assert m[0].all() and _angle(rs["target"][0][m[0]], CANON).max() < 1.0     # the known direction
    assert _angle(rs["target"][1][m[1]], PLANES[3]).max() < 1.0                 # frame 3, not 2 or 4
    assert not m[2][:, : SIZE // 2].any() and m[2][:, SIZE // 2 + 1:].all()     # the mask is applied


def test_normals_gt_without_0000_or_0001_is_rejected(tmp_path):
    gt = _normals_gt(tmp_path / "gt", [5, 6])
    with pytest.raises(ValueError, match="neither 0000.png"):
        nyu.normals_gt_path(gt, 0)


# The 5 real predictions (8-bit, 320×240), regions checked by eye on the photos and the maps.
# Bottom centre: desk top (0008), window ledge (0013), corridor floor (0014): horizontal, facing up.
# 0000's bottom centre is floor between chair legs, 0001's the dishwasher front: not used there.
def _zhang(shared_data, k, axes=nyu.ZHANG_AXES):
    n, ok = nyu.read_normal_png(os.path.join(shared_data, "nyu_samples", "zhang2017_pred",
                                             f"{k}_normal_est.png"), axes)
    assert ok.mean() > 0.99
    return n


def _median(n, rows, cols):
    h, w, _ = n.shape
    v = n[int(rows[0] * h):int(rows[1] * h), int(cols[0] * w):int(cols[1] * w)].reshape(-1, 3)
    return np.median(v, 0)


@pytest.mark.parametrize("k", ["0008", "0013", "0014"])
def test_zhang_real_predictions_floor_points_up(shared_data, k):
    n = _zhang(shared_data, k)
    assert _median(n, (0.88, 1.0), (0.4, 0.6))[1] > 0.8
    top = _median(n, (0.01, 0.08), (0.4, 0.6))        # the ceiling faces down
    assert top[1] < -0.5
    wrong = _zhang(shared_data, k, nyu.CANONICAL_AXES)  # read as if canonical, the floor is not up
    assert _median(wrong, (0.88, 1.0), (0.4, 0.6))[1] < 0.5


@pytest.mark.parametrize("k,cols,sign", [("0000", (0.9, 0.97), -1), ("0014", (0.9, 0.97), -1),
                                         ("0001", (0.03, 0.1), +1)])
def test_zhang_real_predictions_side_walls(shared_data, k, cols, sign):
    """Walls at the right edge face left (−X), the wall at 0001's left edge faces right (+X)."""
    assert sign * _median(_zhang(shared_data, k), (0.3, 0.6), cols)[0] > 0.8


def test_missing_and_invalid_files_are_named(mat, tmp_path):
    missing = str(tmp_path / "nowhere.mat")
    with pytest.raises(FileNotFoundError, match="nowhere.mat"):
        nyu.load_labeled(missing, indices=[0])
    junk = tmp_path / "junk.mat"
    junk.write_text("not hdf5")
    with pytest.raises(ValueError, match="junk.mat"):
        nyu.load_labeled(str(junk), indices=[0])
    partial = str(tmp_path / "partial.mat")
    with h5py.File(partial, "w") as f:
        f["images"] = np.zeros((1, 3, W, H), np.uint8)
    with pytest.raises(ValueError, match="partial.mat.*depths"):
        nyu.load_labeled(partial, indices=[0])
    with pytest.raises(ValueError, match="out of range"):
        nyu.load_labeled(mat, indices=[N])
    with pytest.raises(ValueError, match="split"):
        nyu.load_labeled(mat, split="val")
    with pytest.raises(FileNotFoundError, match="nosplits.mat"):
        nyu.load_labeled(mat, split_path=str(tmp_path / "nosplits.mat"))
    with pytest.raises(ValueError, match="junk.mat"):
        nyu.read_splits(str(junk))
    badsplit = str(tmp_path / "badsplit.mat")
    scipy.io.savemat(badsplit, {"train": np.array([1])})
    with pytest.raises(ValueError, match="badsplit.mat.*trainNdxs"):
        nyu.read_splits(badsplit)
    with pytest.raises(FileNotFoundError, match="nogt"):
        nyu.load_labeled(mat, indices=[0], normals=str(tmp_path / "nogt"))
    gt = _normals_gt(tmp_path / "gt", [0, 1])
    with pytest.raises(FileNotFoundError, match="0003.png"):                     # no file for frame 3
        nyu.load_labeled(mat, indices=[3], normals=gt)
    os.remove(os.path.join(gt, "masks", "0001.png"))
    with pytest.raises(FileNotFoundError, match="masks.0001.png"):
        nyu.load_labeled(mat, indices=[1], normals=gt)
    (tmp_path / "gray.png").write_bytes(b"")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "gray.png")
    with pytest.raises(ValueError, match="gray.png.*RGB"):
        nyu.read_normal_png(str(tmp_path / "gray.png"), nyu.ZHANG_AXES)
    with pytest.raises(ValueError, match="axes"):
        nyu.to_canonical(np.zeros(3), "x,y,y")


def test_nyu_setup_reads_the_labelled_set_by_path(mat):
    """config.data.source = "nyu": validation from the training split, test from the test split."""
    from hg_jax.experiments.nyu import setup as nyu_setup
    from tests.conftest import load_config

    c = load_config("nyu", "small")
    c.data.source, c.data.nyu_mat, c.data.size = "nyu", mat, 16
    nyu_setup.validate(c)
    val, test, notes = nyu_setup._real_sets(c)
    assert val["names"] == ["nyu_0000", "nyu_0002"] and test["names"] == ["nyu_0001", "nyu_0003"]
    assert val["image"].shape == (2, 16, 16, 3) and test["target"].shape == (2, 16, 16, 3)
    assert "standard training split" in notes[0]
    c.data.val_count = 1
    val, _, _ = nyu_setup._real_sets(c)
    assert val["names"] == ["nyu_0000"]
