"""The texture grammar: determinism, count and edge statistics against β, continuity in β."""
import numpy as np
import pytest
from scipy.stats import truncnorm

from hg_jax.generators.sampling import categorical_ppf as categorical
from hg_jax.generators.sampling import truncated_mixture_ppf
from hg_jax.generators.sampling import zero_truncated_poisson_ppf as zero_truncated_poisson
from hg_jax.generators.textures import TextureGenerator, periodic_perlin

GEN = TextureGenerator(texture_size=64, canvas_size=48, supersample=3)


def _beta(**values):
    base = GEN.schema.constrained(GEN.default_beta())
    v = {k: np.asarray(x) for k, x in base.items()}
    v.update({k: np.asarray(x, np.float64) for k, x in values.items()})
    return GEN.schema.unconstrain(v)


def test_texture_is_deterministic_uint8_and_depends_on_the_seed():
    b = GEN.default_beta()
    t1, t2 = GEN.texture(b, 7), GEN.texture(b, 7)
    assert t1.dtype == np.uint8 and t1.shape == (64, 64, 3)
    np.testing.assert_array_equal(t1, t2)
    assert np.abs(t1.astype(int) - GEN.texture(b, 8).astype(int)).mean() > 5
    assert t1.std() > 3                                        # not a flat colour


def test_draws_do_not_depend_on_beta_and_have_fixed_size():
    d = GEN.draws(3)
    assert d["offset"].shape == (GEN.max_polygons + 1, GEN.max_edges, 2)
    assert d["lattice"].shape == (3, GEN.noise_cells, GEN.noise_cells)
    for k, v in GEN.draws(3).items():
        np.testing.assert_array_equal(v, d[k])


@pytest.mark.parametrize("rate", [0.3, 1.5, 5.0])
def test_zero_truncated_poisson_inverse_cdf(rate):
    u = np.random.default_rng(0).uniform(size=200_000)
    n = zero_truncated_poisson(u, rate, cap=200)
    assert n.min() >= 1
    mean = rate / -np.expm1(-rate)
    var = mean * (1 + rate - mean)                             # variance of the zero-truncated Poisson
    assert abs(n.mean() - mean) < 4 * np.sqrt(var / len(u))
    p1 = rate * np.exp(-rate) / -np.expm1(-rate)
    assert abs(np.mean(n == 1) - p1) < 4 * np.sqrt(p1 * (1 - p1) / len(u))
    # inverse CDF: monotone in u
    us = np.linspace(0, 0.999999, 1000)
    assert np.all(np.diff(zero_truncated_poisson(us, rate, 200)) >= 0)


def test_cap_keeps_counts_in_range():
    n = zero_truncated_poisson(np.array([1e-6, 0.5, 1 - 1e-12]), 50.0, cap=8)
    assert n.tolist() == [8, 8, 8]


@pytest.mark.parametrize("tiles,polys", [(0.7, 3.0), (2.5, 9.0)])
def test_generator_counts_follow_the_rates_in_beta(tiles, polys):
    b = _beta(tiles_rate=tiles, polygons_rate=polys)
    counts = [GEN.counts(b, s) for s in range(3000)]
    for rate, cap, got in ((tiles, GEN.max_tiles, [c[0] for c in counts]),
                           (polys, GEN.max_polygons, [c[1] for c in counts])):
        got = np.asarray(got)
        mean = rate / -np.expm1(-rate)
        var = mean * (1 + rate - mean)
        assert got.min() >= 1 and got.max() <= cap
        assert abs(got.mean() - mean) < 4 * np.sqrt(var / len(got)), (rate, got.mean(), mean)


def test_edge_counts_follow_the_categorical_in_beta():
    probs = np.array([0.4, 0.05, 0.1, 0.15, 0.1, 0.2])
    b = _beta(edges_w=probs, polygons_rate=10.0)
    edges = np.concatenate([GEN.counts(b, s)[2] for s in range(1500)])
    freq = np.bincount(edges - GEN.min_edges, minlength=6) / len(edges)
    se = np.sqrt(probs * (1 - probs) / len(edges))
    assert np.all(np.abs(freq - probs) < 4 * se), (freq, probs)
    lay = GEN.layout(b, 11)
    assert [len(p) for p in lay["polygons"]] == [k * GEN.edge_subdiv for k in lay["edges"]]


def test_categorical_inverse_cdf():
    assert categorical(np.array([0.0, 0.29, 0.31, 0.99]), np.array([0.3, 0.7])).tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("field,delta", [("hue_mu", 0.01), ("vertex_sd", 0.01), ("anchor_mu", 0.01),
                                         ("warp", 0.05), ("val_mu", 0.01), ("noise_contrast", 0.05)])
def test_texture_changes_continuously_with_continuous_beta(field, delta):
    """Counts fixed (same seed, count rates untouched): the texture moves by a small amount that
    shrinks with the step, and a large step moves it much more."""
    b = GEN.default_beta()
    sl = GEN.schema.slices()[field]

    def moved(step):
        b2 = b.copy()
        b2[sl] += step
        return b2

    diffs = []
    for seed in (1, 2, 3):
        base = GEN.texture_float(b, seed)
        assert GEN.counts(moved(delta), seed)[1] == GEN.counts(b, seed)[1]
        d_small = np.abs(GEN.texture_float(moved(delta), seed) - base).mean()
        d_tiny = np.abs(GEN.texture_float(moved(delta / 10), seed) - base).mean()
        d_big = np.abs(GEN.texture_float(moved(30 * delta), seed) - base).mean()
        diffs.append((d_tiny, d_small, d_big))
    d_tiny, d_small, d_big = np.mean(diffs, axis=0)
    assert d_small < 0.01, (field, d_small)
    assert d_tiny < 0.5 * d_small + 1e-4, (field, d_tiny, d_small)
    assert d_big > 3 * d_small, (field, d_small, d_big)


def test_count_rate_changes_only_move_counts_at_thresholds():
    b = GEN.default_beta()
    b2 = b.copy()
    b2[GEN.schema.slices()["polygons_rate"]] += 0.5           # rate × 1.65
    n1 = np.array([GEN.counts(b, s)[1] for s in range(300)])
    n2 = np.array([GEN.counts(b2, s)[1] for s in range(300)])
    assert np.all(n2 >= n1) and np.any(n2 > n1)               # inverse CDF is monotone in the rate


def test_canvas_tiles_seamlessly():
    """Polygons wrap around the torus, and the noise is periodic: the jump across the tile's
    border is no larger than between neighbouring interior columns/rows."""
    b = _beta(polygons_rate=12.0, vertex_sd=0.25)
    jumps, inner = [], []
    for seed in range(4):
        c = GEN.canvas(b, seed)
        jumps += [np.abs(c[:, 0] - c[:, -1]).mean(), np.abs(c[0] - c[-1]).mean()]
        inner += [np.abs(np.diff(c, axis=1)).mean(), np.abs(np.diff(c, axis=0)).mean()]
    assert np.mean(jumps) < 2.0 * np.mean(inner)


def test_tiling_repeats_the_canvas():
    g = TextureGenerator(texture_size=48, canvas_size=48, supersample=2)
    b = g.schema.unconstrain({**{k: np.asarray(v) for k, v in g.schema.constrained(g.default_beta()).items()},
                              "tiles_rate": 2.0})
    seed = next(s for s in range(100) if g.counts(b, s)[0] == 2)
    t = g.texture_float(b, seed)
    np.testing.assert_allclose(t[:24, :24], t[24:, 24:], atol=1e-6)
    np.testing.assert_allclose(t[:24, :24], t[:24, 24:], atol=1e-6)


def test_anchor_mixture_places_polygons_near_the_means():
    b = _beta(anchor_w=[0.999, 0.001], anchor_mu=[0.25, 0.8], anchor_sd=[0.02, 0.02],
              vertex_sd=0.01, warp=1e-4, polygons_rate=6.0)
    centres = np.concatenate([np.array([p.mean(0) for p in GEN.layout(b, s)["polygons"]]) for s in range(20)])
    assert np.all(np.abs(centres - 0.25) < 0.1)


def test_periodic_perlin_is_periodic_and_bounded():
    angles = np.random.default_rng(0).uniform(size=(4, 4))
    p = np.random.default_rng(1).uniform(size=(500, 2))
    n = periodic_perlin(p, angles)
    np.testing.assert_allclose(periodic_perlin(p + [1.0, -2.0], angles), n, atol=1e-9)
    assert np.abs(n).max() <= 1.0 + 1e-9 and n.std() > 0.1
    lattice = np.array([[0.0, 0.0], [0.25, 0.5]])             # zero at lattice points
    np.testing.assert_allclose(periodic_perlin(lattice, angles), 0.0, atol=1e-12)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="expected shape"):
        GEN.texture(np.zeros(3), 0)
    with pytest.raises(ValueError, match="min_edges"):
        TextureGenerator(min_edges=5, max_edges=4)
    with pytest.raises(ValueError, match="max_polygons"):
        TextureGenerator(max_polygons=300)


# ---- per-vertex truncated Gaussian mixtures -------------------------------------------------------
def _offsets(b, seeds):
    """Every drawn vertex offset (x and y) of the polygons of ``seeds``, before the warp."""
    out = []
    for s in seeds:
        lay = GEN.layout(b, s)
        r, n = lay["draws"], lay["n_polygons"]
        p = GEN.schema.constrained(b)
        off, comp = truncated_mixture_ppf(r["offset_comp"][1:n + 1], r["offset"][1:n + 1], p["vertex_w"],
                                          p["vertex_mu"], p["vertex_sd"], -0.5, 0.5)
        for j, k in enumerate(lay["edges"]):
            out.append((off[j, :k].reshape(-1), comp[j, :k].reshape(-1)))
    return np.concatenate([o for o, _ in out]), np.concatenate([c for _, c in out])


def test_vertex_offsets_follow_the_vertex_mixture():
    """Many seeds: component frequencies and per-component truncated-normal moments match β."""
    w, mu, sd = np.array([0.3, 0.7]), np.array([-0.15, 0.1]), np.array([0.05, 0.08])
    b = _beta(vertex_w=w, vertex_mu=mu, vertex_sd=sd, polygons_rate=10.0)
    x, k = _offsets(b, range(40))
    assert np.all(np.abs(x) <= 0.5) and len(x) > 2000
    assert abs(np.mean(k == 0) - 0.3) < 4 * np.sqrt(0.21 / len(k))
    for j in (0, 1):
        ref = truncnorm((-0.5 - mu[j]) / sd[j], (0.5 - mu[j]) / sd[j], loc=mu[j], scale=sd[j])
        xs = x[k == j]
        assert abs(xs.mean() - ref.mean()) < 4 * ref.std() / np.sqrt(len(xs))
        assert abs(xs.std() / ref.std() - 1) < 0.1


def test_vertex_sd_sets_polygon_size_and_vertex_mu_shifts_vertices():
    """Raising vertex_sd grows the polygons; a positive vertex_mu moves vertices towards +x, +y
    of their anchor (same seeds, same counts)."""
    def spread(b):
        lay = [GEN.layout(b, s) for s in range(10)]
        return np.mean([np.ptp(p, axis=0).mean() for l in lay for p in l["polygons"]])

    small = _beta(vertex_sd=[0.05, 0.05], warp=1e-4)
    large = _beta(vertex_sd=[0.15, 0.15], warp=1e-4)
    assert spread(large) > 2.0 * spread(small)
    x0, _ = _offsets(_beta(vertex_sd=[0.05, 0.05]), range(10))
    x1, _ = _offsets(_beta(vertex_sd=[0.05, 0.05], vertex_mu=[0.1, 0.1]), range(10))
    assert x1.mean() - x0.mean() == pytest.approx(0.1, abs=0.01)


def test_vertex_mixture_is_continuous_in_beta_and_components_switch_only_at_weights():
    b = GEN.default_beta()
    sl = GEN.schema.slices()
    x0, k0 = _offsets(b, range(5))
    for field in ("vertex_mu", "vertex_sd"):
        for eps in (1e-3, 1e-4):
            b2 = b.copy()
            b2[sl[field]] += eps
            x2, k2 = _offsets(b2, range(5))
            np.testing.assert_array_equal(k0, k2)
            assert np.abs(x2 - x0).max() < 5 * eps * 0.5 + 1e-9
    b2 = b.copy()
    b2[sl["vertex_w"]] += (0.5, -0.5)
    x2, k2 = _offsets(b2, range(5))
    moved = k0 != k2
    assert moved.any() and np.all(k2[moved] == 0)
    np.testing.assert_array_equal(x0[~moved], x2[~moved])
