"""The texture grammar of the intrinsic-decomposition experiment (paper §5.4), host side (numpy + PIL).

Painter's algorithm on a square canvas that tiles (a torus, so copies join without seams):

    texture → tile(canvas, n × n);   canvas → background, polygon_1, ..., polygon_m (later on top)

- n (tilings per side) and m (polygons) are zero-truncated Poisson with rates in β, capped at
  ``max_tiles`` / ``max_polygons`` (the cap moves the tail's mass onto the cap; keep the rates well
  below the caps).
- A polygon has k edges, k categorical over ``min_edges .. max_edges`` (simplex in β). Its vertices
  are anchor + offset, each coordinate a draw from a truncated Gaussian mixture (paper §5.4): the
  anchor's x and y independent draws from the anchor mixture on [0, 1] (``anchor_w``,
  ``anchor_mu``, ``anchor_sd``), and every vertex's x and y offsets independent draws from the
  vertex mixture on [-1/2, 1/2] (``vertex_w``, ``vertex_mu``, ``vertex_sd``; each component
  truncated to the interval, one component choice per coordinate). ``vertex_sd`` sets the
  polygons' size, ``vertex_mu`` ≠ 0 skews them along the diagonal. Vertices go round the anchor in
  the order of the angles of their offsets' *standard-normal* equivalents, which the seed alone
  fixes, so the order never flips under a change of β (sorting the offsets themselves would).
- Perlin noise perturbs each polygon twice: its outline (every edge cut into ``edge_subdiv``
  pieces, each point displaced by ``warp`` × a 2-D periodic Perlin vector field; β has ``warp``),
  and its colour (× 1 + ``noise_contrast`` · a periodic Perlin field, shifted per polygon).
- Colours are HSV: hue ~ N(hue_mu, hue_sd²) mod 1, saturation and value logit-normal; read
  as linear RGB albedo.

Rasterisation: every polygon (with its 8 torus copies) is drawn with its label into one label
image at ``supersample`` × the canvas resolution, so later polygons cover earlier ones; each canvas
pixel's colour is the mean over its sub-pixels. Edges are thus anti-aliased and the texture moves
by small steps as vertices move (PIL snaps vertices to the sub-pixel grid: steps of
1 / (canvas_size · supersample) of a tile).

Common random numbers: ``draws(seed)`` takes every random number from ``default_rng(seed)`` in
fixed-size blocks (``max_polygons`` + 1 polygons × ``max_edges`` vertices, the noise lattices, ...)
whatever β is. Counts are inverse CDFs of fixed uniforms, truncated Gaussians are
inverse CDFs of fixed uniforms (``sampling.py``), colours are μ + σ·z of fixed normals: ``texture(β, r)`` is
deterministic, continuous in the continuous parts of β, and jumps only where a uniform crosses a
count's or category's threshold.
"""
from __future__ import annotations

import colorsys
import dataclasses

import numpy as np
from PIL import Image, ImageDraw
from scipy.special import expit, ndtri

from hg_jax.beta import BetaSchema
from hg_jax.generators.sampling import categorical_ppf, truncated_mixture_ppf, zero_truncated_poisson_ppf


def make_schema(n_edges: int, n_components: int) -> BetaSchema:
    return BetaSchema.of(
        ("tiles_rate", 1, "positive"), ("polygons_rate", 1, "positive"), ("edges_w", n_edges, "simplex"),
        ("anchor_w", n_components, "simplex"), ("anchor_mu", n_components, "real"),
        ("anchor_sd", n_components, "positive"), ("vertex_w", n_components, "simplex"),
        ("vertex_mu", n_components, "real"), ("vertex_sd", n_components, "positive"), ("warp", 1, "positive"),
        ("hue_mu", 1, "real"), ("hue_sd", 1, "positive"), ("sat_mu", 1, "real"),
        ("sat_sd", 1, "positive"), ("val_mu", 1, "real"), ("val_sd", 1, "positive"),
        ("noise_contrast", 1, "prob"),
    )


def periodic_perlin(points: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """2-D gradient (Perlin) noise with period 1 in x and y, at ``points`` (..., 2).

    ``angles`` (F, F) are the lattice gradients' directions in turns: F cells per period. The
    quintic fade makes the field C², so a point moving continuously sees a continuous value.
    Output roughly in [-1, 1].
    """
    f = angles.shape[0]
    grads = np.stack([np.cos(2 * np.pi * angles), np.sin(2 * np.pi * angles)], axis=-1)
    p = np.asarray(points, np.float64) * f
    cell = np.floor(p)
    t = p - cell
    i0 = cell.astype(np.int64) % f
    i1 = (i0 + 1) % f
    fade = t * t * t * (t * (t * 6 - 15) + 10)

    def dot(ix, iy, dx, dy):
        g = grads[ix, iy]
        return g[..., 0] * (t[..., 0] - dx) + g[..., 1] * (t[..., 1] - dy)

    n00 = dot(i0[..., 0], i0[..., 1], 0, 0)
    n10 = dot(i1[..., 0], i0[..., 1], 1, 0)
    n01 = dot(i0[..., 0], i1[..., 1], 0, 1)
    n11 = dot(i1[..., 0], i1[..., 1], 1, 1)
    fx, fy = fade[..., 0], fade[..., 1]
    nx0 = n00 + fx * (n10 - n00)
    nx1 = n01 + fx * (n11 - n01)
    return np.sqrt(2.0) * (nx0 + fy * (nx1 - nx0))


def _resize(a: np.ndarray, size: int) -> np.ndarray:
    """Area (box) resize of an (H, W, C) float image to (size, size)."""
    if a.shape[0] == size and a.shape[1] == size:
        return a
    return np.stack([np.asarray(Image.fromarray(a[..., c].astype(np.float32), mode="F")
                                .resize((size, size), Image.BOX)) for c in range(a.shape[-1])], axis=-1)


_SHIFTS = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]


@dataclasses.dataclass(frozen=True)
class TextureGenerator:
    texture_size: int = 256       # output (texture_size, texture_size, 3)
    canvas_size: int = 128        # one tile's resolution before tiling
    supersample: int = 3          # sub-pixels per canvas pixel side (anti-aliasing)
    max_tiles: int = 8
    max_polygons: int = 24
    min_edges: int = 3
    max_edges: int = 8
    n_components: int = 2         # components of the anchor and of the vertex mixtures (>= 2)
    edge_subdiv: int = 6          # outline points per edge, displaced by the Perlin warp
    noise_cells: int = 4          # Perlin lattice cells per canvas side (outline and colour)

    def __post_init__(self):
        for name in ("texture_size", "canvas_size"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 8):
                raise ValueError(f"TextureGenerator.{name} must be an int >= 8, got {getattr(self, name)!r}")
        for name in ("supersample", "max_tiles", "max_polygons", "n_components", "edge_subdiv", "noise_cells"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"TextureGenerator.{name} must be an int >= 1, got {getattr(self, name)!r}")
        if self.n_components < 2:
            raise ValueError(f"TextureGenerator.n_components must be >= 2 (mixture weights are a simplex), "
                             f"got {self.n_components}")
        if not (3 <= self.min_edges < self.max_edges):
            raise ValueError(f"TextureGenerator edges: need 3 <= min_edges < max_edges, got "
                             f"{self.min_edges}, {self.max_edges}")
        if self.max_polygons > 254:
            raise ValueError(f"TextureGenerator.max_polygons must be <= 254 (8-bit labels), got {self.max_polygons}")

    @property
    def schema(self) -> BetaSchema:
        return make_schema(self.max_edges - self.min_edges + 1, self.n_components)

    def default_beta(self) -> np.ndarray:
        """About 2.3 tiles per side, 6.0 polygons of radius ~0.15 canvas (vertex offsets sd 0.12
        and 0.18, mean 0) around two clusters, all edge counts equally likely, muted mid-bright
        colours around orange, mild noise."""
        k = self.n_components
        return self.schema.unconstrain({
            "tiles_rate": 2.0, "polygons_rate": 6.0, "edges_w": np.ones(self.max_edges - self.min_edges + 1),
            "anchor_w": np.ones(k), "anchor_mu": np.linspace(0.3, 0.7, k) if k > 1 else 0.5,
            "anchor_sd": 0.2, "vertex_w": np.ones(k), "vertex_mu": 0.0, "vertex_sd": np.linspace(0.12, 0.18, k),
            "warp": 0.02,
            "hue_mu": 0.08, "hue_sd": 0.25, "sat_mu": 0.0, "sat_sd": 1.0,
            "val_mu": 0.4, "val_sd": 0.8, "noise_contrast": 0.2,
        })

    # ---- random numbers ------------------------------------------------------------------------
    def draws(self, seed: int) -> dict:
        """Everything random about a texture, from the seed alone, in a fixed amount and order.
        Polygon 0 is the background (only its colour and noise shift are used)."""
        rng = np.random.default_rng(seed)
        p, e, f = self.max_polygons + 1, self.max_edges, self.noise_cells
        return {
            "counts": rng.uniform(size=2),                  # tiles, polygons
            "edges": rng.uniform(size=p),
            "anchor_comp": rng.uniform(size=(p, 2)),
            "anchor": rng.uniform(size=(p, 2)),
            "offset": rng.uniform(size=(p, e, 2)),
            "colour": rng.standard_normal((p, 3)),          # hue, saturation, value
            "shift": rng.integers(0, self.canvas_size, size=(p, 2)),
            "lattice": rng.uniform(size=(3, f, f)),          # warp x, warp y, colour
            "offset_comp": rng.uniform(size=(p, e, 2)),      # last: the blocks above keep their values
        }

    # ---- grammar -------------------------------------------------------------------------------
    def _params(self, beta) -> dict:
        self.schema.check(beta, "beta")
        return self.schema.constrained(np.asarray(beta, np.float64))

    def _counts(self, p: dict, r: dict) -> tuple[int, int, np.ndarray]:
        n_tiles = int(zero_truncated_poisson_ppf(r["counts"][0], p["tiles_rate"][0], self.max_tiles))
        n_poly = int(zero_truncated_poisson_ppf(r["counts"][1], p["polygons_rate"][0], self.max_polygons))
        edges = self.min_edges + categorical_ppf(r["edges"][1:n_poly + 1], p["edges_w"])
        return n_tiles, n_poly, edges

    def counts(self, beta, seed: int) -> tuple[int, int, np.ndarray]:
        """(tilings per side, polygons, edges of each polygon): the discrete part of the texture."""
        return self._counts(self._params(beta), self.draws(seed))

    def layout(self, beta, seed: int) -> dict:
        """The texture before rasterisation: ``n_tiles``, ``n_polygons``, ``edges`` (per polygon),
        ``polygons`` (list of (k·edge_subdiv, 2) warped outlines in canvas units), ``colours``
        ((n_polygons + 1, 3) linear RGB, background first), plus the draws."""
        p, r = self._params(beta), self.draws(seed)
        n_tiles, n_poly, edges = self._counts(p, r)

        # anchors: component per coordinate, then the component's truncated Gaussian on [0, 1]
        anchors, _ = truncated_mixture_ppf(r["anchor_comp"][1:n_poly + 1], r["anchor"][1:n_poly + 1],
                                           p["anchor_w"], p["anchor_mu"], p["anchor_sd"], 0.0, 1.0)
        u_off = r["offset"][1:n_poly + 1]
        offsets, _ = truncated_mixture_ppf(r["offset_comp"][1:n_poly + 1], u_off, p["vertex_w"], p["vertex_mu"],
                                           p["vertex_sd"], -0.5, 0.5)
        order_angle = np.arctan2(ndtri(u_off[..., 1]), ndtri(u_off[..., 0]))

        t = np.arange(self.edge_subdiv) / self.edge_subdiv
        polygons = []
        for j in range(n_poly):
            k = int(edges[j])
            verts = anchors[j] + offsets[j, :k][np.argsort(order_angle[j, :k], kind="stable")]
            nxt = np.roll(verts, -1, axis=0)
            outline = (verts[:, None] + t[None, :, None] * (nxt - verts)[:, None]).reshape(-1, 2)
            wrapped = np.mod(outline, 1.0)   # the lattice is periodic: any representative will do
            disp = np.stack([periodic_perlin(wrapped, r["lattice"][0]),
                             periodic_perlin(wrapped, r["lattice"][1])], axis=-1)
            polygons.append(outline + p["warp"][0] * disp)

        z = r["colour"][:n_poly + 1]
        hue = np.mod(p["hue_mu"][0] + p["hue_sd"][0] * z[:, 0], 1.0)
        sat = expit(p["sat_mu"][0] + p["sat_sd"][0] * z[:, 1])
        val = expit(p["val_mu"][0] + p["val_sd"][0] * z[:, 2])
        colours = np.array([colorsys.hsv_to_rgb(h, s, v) for h, s, v in zip(hue, sat, val)])
        return {"n_tiles": n_tiles, "n_polygons": n_poly, "edges": edges, "polygons": polygons,
                "colours": colours, "noise_contrast": float(p["noise_contrast"][0]), "draws": r}

    def canvas(self, beta, seed: int) -> np.ndarray:
        """One tile, (canvas_size, canvas_size, 3) float64 linear RGB in [0, 1]."""
        return self._paint(self.layout(beta, seed))

    def _paint(self, lay: dict) -> np.ndarray:
        c, ss = self.canvas_size, self.supersample
        res = c * ss
        labels = Image.new("L", (res, res), 0)
        draw = ImageDraw.Draw(labels)
        for j, outline in enumerate(lay["polygons"]):
            for dx, dy in _SHIFTS:                       # torus copies: the tile joins its neighbours
                pts = (outline + (dx, dy)) * res
                lo, hi = pts.min(0), pts.max(0)
                if hi[0] < 0 or hi[1] < 0 or lo[0] > res or lo[1] > res:
                    continue
                draw.polygon([tuple(q) for q in pts], fill=j + 1)
        lab = np.asarray(labels, np.int64)               # rows = y, columns = x
        n = lay["n_polygons"] + 1
        pix = (np.arange(res) // ss)
        canvas_idx = pix[:, None] * c + pix[None, :]
        cover = np.bincount((canvas_idx * n + lab).ravel(), minlength=c * c * n).reshape(c, c, n)
        cover = cover / float(ss * ss)

        # colour noise: one periodic field on the canvas grid, shifted by whole pixels per polygon
        grid = (np.stack(np.meshgrid(np.arange(c), np.arange(c), indexing="xy"), axis=-1) + 0.5) / c
        field = periodic_perlin(grid, lay["draws"]["lattice"][2])             # (c, c), [y, x]
        shifts = lay["draws"]["shift"][:n]
        noise = np.stack([np.roll(field, tuple(s), axis=(0, 1)) for s in shifts], axis=-1)  # (c, c, n)
        gain = 1.0 + lay["noise_contrast"] * noise
        out = np.einsum("yxn,yxn,nc->yxc", cover, gain, lay["colours"])
        return np.clip(out, 0.0, 1.0)

    def texture_float(self, beta, seed: int) -> np.ndarray:
        """The tiled texture, (texture_size, texture_size, 3) float32 linear RGB in [0, 1]."""
        lay = self.layout(beta, seed)
        n = lay["n_tiles"]
        side = int(np.ceil(self.texture_size / n))
        tiled = np.tile(_resize(self._paint(lay), side), (n, n, 1))
        return np.clip(_resize(tiled, self.texture_size), 0.0, 1.0).astype(np.float32)

    def texture(self, beta, seed: int) -> np.ndarray:
        """(texture_size, texture_size, 3) uint8, linear RGB albedo (MeshPart.texture's convention)."""
        return np.round(self.texture_float(beta, seed) * 255.0).astype(np.uint8)
