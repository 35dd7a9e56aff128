"""Morphable-model loaders: ICT (real file) and Basel Face Model 2009 .mat / 2017 .h5 (tiny fixtures)."""
import os
import warnings

import numpy as np
import pytest

from hg_jax.data import face_model as fm


# ---- ICT (the real shared file) -----------------------------------------------------------------

@pytest.fixture(scope="module")
def ict(shared_data):
    path = os.path.join(shared_data, "faces", "ict_face_light.npz")
    return fm.load_ict(path), np.load(path)


def test_ict_shapes_and_zero_coefficients(ict):
    m, raw = ict
    assert m.mean.shape == (9409, 3) and m.triangles.shape == (18460, 3)
    assert m.identity_basis.shape == (100, 9409, 3) and m.expression_basis.shape == (57, 9409, 3)
    assert m.expression_kind == "blendshape" and len(m.expression_names) == 57
    assert m.landmarks68.shape == (68,) and m.units == "cm"
    assert m.triangles.min() == 0 and m.triangles.max() == 9408
    np.testing.assert_array_equal(m.vertices(), raw["neutral"].astype(np.float64))
    np.testing.assert_array_equal(m.vertices(np.zeros(100), np.zeros(57)), raw["neutral"].astype(np.float64))
    # a face ~ 18 cm wide: centimetres
    assert 12 < np.ptp(m.mean[:, 0]) < 30


def test_ict_coefficients_add_offsets(ict):
    m, raw = ict
    j = list(raw["expression_names"]).index("jawOpen")
    e = np.zeros(57)
    e[j] = 1.0
    got = m.vertices([0.0, 2.0], e)
    want = raw["neutral"] + 2.0 * raw["identity"][1] + raw["expression"][j]
    np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(ValueError, match="101 identity coefficients"):
        m.vertices(np.zeros(101))


def test_ict_winding_faces_forward(ict):
    m, _ = ict
    v, t = m.mean, m.triangles
    n = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]]).sum(0)
    assert n[2] > 0.5 * np.linalg.norm(n)


def test_ict_missing_file_and_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        fm.load_ict(str(tmp_path / "nope.npz"))
    bad = tmp_path / "bad.npz"
    np.savez(bad, neutral=np.zeros((3, 3)), triangles=np.zeros((1, 3), int))
    with pytest.raises(KeyError, match=r"bad\.npz.*identity"):
        fm.load_ict(str(bad))


# ---- tiny BFM fixtures ----------------------------------------------------------------------------

def _patch():
    """A 4-vertex face patch 14 cm wide facing +Z (cm), two triangles wound *clockwise* seen from +Z."""
    v = np.array([[-7.0, -8.0, 0.0], [7.0, -8.0, 0.0], [7.0, 8.0, 0.0], [-7.0, 8.0, 2.0]])
    tri_cw = np.array([[0, 2, 1], [0, 3, 2]])
    return v, tri_cw


def _orthonormal(rows, k, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((rows, k)))
    return q


def test_bfm2009_mat(tmp_path):
    import scipy.io

    v_cm, tri_cw = _patch()
    mu_um = v_cm.reshape(-1, 1) * 1e4                       # (3V, 1) interleaved, micrometres
    pc = _orthonormal(12, 2, 0)                             # (3V, 2)
    ev_um = np.array([[5000.0], [2000.0]])                  # standard deviations, µm
    tex_mu = np.full((12, 1), 127.5)
    path = tmp_path / "01_MorphableModel.mat"
    scipy.io.savemat(path, {"shapeMU": mu_um, "shapePC": pc, "shapeEV": ev_um, "tl": tri_cw + 1,
                            "texMU": tex_mu, "texPC": _orthonormal(12, 2, 1), "texEV": np.array([[25.5], [10.0]])})
    m = fm.load_bfm(str(path))
    assert m.mean.shape == (4, 3) and m.identity_basis.shape == (2, 4, 3) and m.n_expression == 0
    np.testing.assert_allclose(m.mean, v_cm, atol=1e-9)                  # µm -> cm
    np.testing.assert_allclose(m.identity_std, [0.5, 0.2])
    np.testing.assert_allclose(m.vertices(), v_cm, atol=1e-9)
    np.testing.assert_allclose(m.vertices([1.0]), v_cm + 0.5 * pc[:, 0].reshape(4, 3), atol=1e-6)
    np.testing.assert_allclose(m.vertices([0.0, -2.0]), v_cm - 0.4 * pc[:, 1].reshape(4, 3), atol=1e-6)
    # 1-based -> 0-based, and re-wound to face +Z (each triangle keeps its vertex set)
    assert m.triangles.min() == 0 and m.triangles.max() == 3
    assert [sorted(t) for t in m.triangles.tolist()] == [sorted(t) for t in tri_cw.tolist()]
    assert not np.array_equal(m.triangles, tri_cw)
    a, b, c = (m.mean[m.triangles[:, i]] for i in range(3))
    assert np.all(np.cross(b - a, c - a)[:, 2] > 0)
    np.testing.assert_allclose(m.colors(), 0.5)                          # [0, 255] -> [0, 1]
    np.testing.assert_allclose(m.color_std, [0.1, 10 / 255])


def test_bfm2009_missing_variable(tmp_path):
    import scipy.io

    path = tmp_path / "broken.mat"
    scipy.io.savemat(path, {"shapeMU": np.zeros((12, 1)), "tl": np.ones((2, 3))})
    with pytest.raises(KeyError, match=r"broken\.mat.*shapePC"):
        fm.load_bfm(str(path))


def _write_h5(path, with_expression=True, drop=None):
    import h5py

    v_cm, tri_cw = _patch()
    data = {
        "shape/model/mean": (v_cm * 10.0).ravel().astype(np.float32),              # mm, (3V,)
        "shape/model/pcaBasis": _orthonormal(12, 3, 2).astype(np.float32),         # (3V, 3)
        "shape/model/pcaVariance": np.array([400.0, 100.0, 25.0], np.float32),     # mm²
        "shape/representer/points": (v_cm * 10.0).T.astype(np.float32),           # (3, V)
        "shape/representer/cells": tri_cw.T.astype(np.uint32),                     # (3, F), 0-based
        "color/model/mean": np.full(12, 0.5, np.float32),
        "color/model/pcaBasis": _orthonormal(12, 2, 3).astype(np.float32),
        "color/model/pcaVariance": np.array([0.01, 0.0025], np.float32),
    }
    if with_expression:
        data.update({
            "expression/model/mean": np.tile([0.0, 0.0, 1.0], 4).astype(np.float32),   # +1 mm in z
            "expression/model/pcaBasis": _orthonormal(12, 2, 4).astype(np.float32),
            "expression/model/pcaVariance": np.array([9.0, 4.0], np.float32),
        })
    with h5py.File(path, "w") as f:
        for k, a in data.items():
            if k != drop:
                f.create_dataset(k, data=a)
    return v_cm, data


def test_bfm2017_h5(tmp_path):
    path = tmp_path / "model2017-1_bfm_nomouth.h5"
    v_cm, data = _write_h5(path)
    m = fm.load_bfm(str(path))
    want_mean = v_cm + np.array([0.0, 0.0, 0.1])                         # shape + expression mean, cm
    np.testing.assert_allclose(m.mean, want_mean, atol=1e-5)
    np.testing.assert_allclose(m.vertices(), want_mean, atol=1e-5)
    np.testing.assert_allclose(m.identity_std, [2.0, 1.0, 0.5], rtol=1e-6)    # sqrt(var) mm -> cm
    np.testing.assert_allclose(m.expression_std, [0.3, 0.2], rtol=1e-6)
    pc = data["shape/model/pcaBasis"].astype(np.float64)
    ec = data["expression/model/pcaBasis"].astype(np.float64)
    got = m.vertices([1.0, 0.0, 2.0], [0.0, -1.0])
    want = want_mean + 2.0 * pc[:, 0].reshape(4, 3) + 1.0 * pc[:, 2].reshape(4, 3) - 0.2 * ec[:, 1].reshape(4, 3)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert m.triangles.shape == (2, 3) and m.triangles.max() == 3 and m.triangles.min() == 0  # 0-based kept
    a, b, c = (m.mean[m.triangles[:, i]] for i in range(3))
    assert np.all(np.cross(b - a, c - a)[:, 2] > 0)
    assert m.expression_kind == "pca" and m.colors().shape == (4, 3)


def test_bfm_h5_without_expression_and_missing_dataset(tmp_path):
    p1 = tmp_path / "model2009-publicmm1-bfm.h5"
    v_cm, _ = _write_h5(p1, with_expression=False)
    m = fm.load_bfm(str(p1))
    assert m.n_expression == 0
    np.testing.assert_allclose(m.vertices(), v_cm, atol=1e-5)
    p2 = tmp_path / "broken.h5"
    _write_h5(p2, drop="shape/model/pcaVariance")
    with pytest.raises(KeyError, match=r"broken\.h5.*shape/model/pcaVariance"):
        fm.load_bfm(str(p2))


def test_bfm_units_warning_and_override(tmp_path):
    path = tmp_path / "m.h5"
    v_cm, _ = _write_h5(path)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        m = fm.load_bfm(str(path), units="um")           # wrong unit: a 0.014 cm wide face
    assert any("face width" in str(x.message) for x in w)
    assert np.ptp(m.mean[:, 0]) == pytest.approx(0.014, rel=1e-4)
    with pytest.raises(ValueError, match="units"):
        fm.load_bfm(str(path), units="furlong")
    with pytest.raises(ValueError, match="format"):
        fm.load_bfm(str(_touch(tmp_path / "m.obj")))


def _touch(p):
    p.write_text("")
    return p
