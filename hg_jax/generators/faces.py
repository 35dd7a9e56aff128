"""The face generator of the face-depth experiment (paper §5.3): a 3D morphable model whose
shape, expression, texture and head-pose distributions are β, rendered frontally. Host side
(numpy + scipy), no jax.

Grammar. A face is ``model.vertices(c_id, c_expr)`` with per-vertex albedo
``face_albedo.albedo_space(model).linear(c_tex)``, posed by head rotation R(yaw, pitch, roll) about
the model's pivot, lit by 1–3 directional lights, seen by a fixed frontal camera.

β (``schema``; K = ``n_components``, P = ``n_pose_components``, n = ``n_identity``, m = ``n_expression``,
t = ``n_texture``):

==============  ===========  =============================================================================
field           kind         meaning
==============  ===========  =============================================================================
``id_w``        simplex K    mixture weights of the identity mixture (absent when K = 1)
``id_mu``       real K·n     component k's means, ``[k*n:(k+1)*n]`` (component-major)
``id_sd``       positive     component k's standard deviations, same layout
``expr_w``      simplex K    likewise for the first m expression coefficients
``expr_mu``     real K·m
``expr_sd``     positive
``tex_w``       simplex K    likewise for the first t albedo (texture) coefficients
``tex_mu``      real K·t
``tex_sd``      positive
``pose_w``      simplex P    von Mises mixture over head pose (absent when P = 1)
``pose_mu``     real P·3     component p's (yaw, pitch, roll) means in radians, ``[3p:3p+3]``
``pose_kappa``  positive     component p's von Mises concentrations κ (yaw, pitch, roll)
==============  ===========  =============================================================================

Each block is a mixture of K **diagonal multivariate** Gaussians (one component choice per face,
shared by its n coefficients; this lets a component be a "kind of face" and captures correlation
between coefficients) — not K independent per-coefficient mixtures. Pose is likewise a mixture of P
products of three von Mises distributions.

Coefficients outside β: identity modes n.. ~ N(0, ``rest_identity_std``²); expression modes other
than the m chosen ones ~ ``rest_expression_scale``·|N(0, 1)| (blendshapes) or
``rest_expression_scale``·N(0, 1) (PCA); albedo modes t.. ~ N(0, ``rest_texture_std``²). β thus
learns mixtures over the leading modes of each space while the remaining ones keep a fixed prior
drawn from the seed (their spreads are config, not β). Blendshape weights (ICT) are clipped to [0, 1] after
sampling, PCA coefficients are not. ``expression_modes`` picks the m β-controlled expression modes by
name or index; by default the first m modes of a PCA model, and for ICT (57 ARKit-style blendshapes
in alphabetical order, the first two of which move nothing) the list ``ICT_EXPRESSIONS``.

Pose. yaw = rotation about +Y (yaw > 0 turns the face towards +X: image right, the subject's left),
pitch about +X (pitch > 0 lifts the chin / nose up), roll about +Z (roll > 0 turns the face
counter-clockwise in the image); R = R_y(yaw) · R_x(−pitch) · R_z(roll), applied about ``pivot``
(default: centre of the mean mesh's bounding box, inside the head behind the face). An angle is
mean + von Mises deviate (the deviate in (−π, π], the mean not wrapped), then clipped to
±``max_pose_deg``: continuous in β everywhere, and a face never turns its open back to the camera.

Camera and units. Centimetres throughout: the camera sits ``camera_distance`` cm in front of the
pivot on +Z, looking at it (world frame = camera frame up to that translation), with a vertical
field of view that spans ``field_cm`` at the pivot. Depth maps are therefore in cm (≈ 50–65 for the
default framing); scans (``hg_jax.data.scans``) are normalised into the same model frame and rendered
with this generator's ``scene`` so their depths are comparable.

Lights come from the seed only: 1..``max_lights`` directional lights within ``light_cone_deg`` of
the view axis, sharing ``light_intensity``. Albedo (texture): per-vertex colours from the model's
albedo space (``face_albedo.py``: a Basel model's own colour PCA; for ICT, which has none, a small
hand-made space of skin tone, warmth, lips, cheeks and brows), coefficients as above; with
``albedo_variation=False`` a constant gray ``base_albedo`` instead (the tex_* fields then move
nothing). Real scans are re-rendered with their own textures (``data/scans.py`` passes its parts to
``scene``, which never touches colour).

Common random numbers. ``draws(seed)`` draws every random number up front from independent child
streams of ``SeedSequence(seed)`` (one per block: a new block is a new stream, so the others keep
their values), sizes fixed by the generator and the model, never by β. Mixture components are chosen by inverse CDF of one uniform per block; a Gaussian coefficient is
mean + scale·z; a von Mises angle is ``sampling.vonmises_ppf(u, κ)`` of a fixed uniform (continuous in κ). So
f(β, r) is bit-identical across calls and continuous in β except where a component boundary crosses
a uniform.

The model is loaded lazily, once per process, keyed by path (the generator stays small and picklable).
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from hg_jax.beta import BetaSchema
from hg_jax.data.face_model import MorphableModel, load_model
from hg_jax.generators.face_albedo import AlbedoSpace, albedo_space
from hg_jax.generators.sampling import categorical_ppf, random_lights, vonmises_ppf, yaw_pitch_roll
from hg_jax.render.scene import Camera, MeshPart, Scene, look_at

ICT_EXPRESSIONS = ("jawOpen", "mouthSmile_L", "mouthSmile_R", "mouthFrown_L", "mouthFrown_R",
                   "mouthPucker", "browInnerUp_L", "browInnerUp_R", "eyeBlink_L", "eyeBlink_R")
POSE_NAMES = ("yaw", "pitch", "roll")
_MODELS: dict[str, MorphableModel] = {}
_ALBEDO: dict[str, AlbedoSpace] = {}


def get_model(path: str = "") -> MorphableModel:
    """This process's copy of the model at ``path`` ("" = the shared ICT file), loaded once."""
    if path not in _MODELS:
        _MODELS[path] = load_model(path or None)
    return _MODELS[path]


def get_albedo_space(path: str = "") -> AlbedoSpace:
    """This process's albedo space of the model at ``path``, built once."""
    if path not in _ALBEDO:
        _ALBEDO[path] = albedo_space(get_model(path))
    return _ALBEDO[path]


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R_y(yaw) · R_x(−pitch) · R_z(roll), radians: a head's pitch > 0 lifts the chin, the opposite
    sense of the x-axis rotation (conventions in the module doc)."""
    return yaw_pitch_roll(yaw, -pitch, roll)


@dataclasses.dataclass(frozen=True)
class FaceGenerator:
    model_path: str = ""                # "" = ../shared/data/faces/ict_face_light.npz; or .mat / .h5 (BFM)
    n_identity: int = 10
    n_expression: int = 10
    n_components: int = 2               # K: Gaussian mixture components (identity, expression)
    n_pose_components: int = 2          # P: von Mises mixture components (pose)
    n_texture: int = 5                  # t: β-controlled albedo modes (ICT's space has 5)
    expression_modes: tuple = ()        # names or indices of the m β-controlled modes; () = default
    rest_identity_std: float = 0.3
    rest_expression_scale: float = 0.05
    rest_texture_std: float = 0.3
    max_pose_deg: tuple = (80.0, 60.0, 60.0)   # clip |yaw|, |pitch|, |roll|
    image_size: int = 64
    camera_distance: float = 60.0       # cm from the pivot
    field_cm: float = 30.0              # vertical extent of the view at the pivot's depth
    pivot: Optional[tuple] = None       # model-frame rotation centre / camera target; None = bbox centre
    min_lights: int = 1
    max_lights: int = 3
    light_cone_deg: float = 60.0
    light_intensity: float = 3.0
    ambient: float = 0.0
    base_albedo: float = 0.7            # gray albedo without albedo_variation
    albedo_variation: bool = True
    smooth: bool = True                 # interpolated vertex normals (faces are smooth surfaces)

    def __post_init__(self):
        for name in ("n_identity", "n_expression", "n_texture", "n_components", "n_pose_components", "image_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"FaceGenerator.{name} must be a positive int, got {getattr(self, name)!r}")
        if self.image_size < 8:
            raise ValueError(f"FaceGenerator.image_size must be >= 8, got {self.image_size}")
        if not 1 <= self.min_lights <= self.max_lights:
            raise ValueError(f"FaceGenerator lights: need 1 <= min_lights <= max_lights, got "
                             f"{self.min_lights}, {self.max_lights}")
        if len(self.max_pose_deg) != 3 or not all(0 < a <= 180 for a in self.max_pose_deg):
            raise ValueError(f"FaceGenerator.max_pose_deg must be 3 angles in (0, 180], got {self.max_pose_deg}")
        if self.camera_distance <= 0 or self.field_cm <= 0:
            raise ValueError("FaceGenerator.camera_distance and field_cm must be > 0")
        if self.rest_identity_std < 0 or self.rest_expression_scale < 0 or self.rest_texture_std < 0:
            raise ValueError("FaceGenerator rest_identity_std / rest_expression_scale / rest_texture_std must be >= 0")
        if self.expression_modes and len(self.expression_modes) != self.n_expression:
            raise ValueError(f"FaceGenerator.expression_modes has {len(self.expression_modes)} entries, "
                             f"n_expression is {self.n_expression}")

    # ---- model ---------------------------------------------------------------------------------
    @property
    def model(self) -> MorphableModel:
        return get_model(self.model_path)

    @property
    def albedo_space(self) -> AlbedoSpace:
        return get_albedo_space(self.model_path)

    def expression_indices(self) -> np.ndarray:
        """Indices of the m β-controlled expression modes in the model."""
        m = self.model
        modes = self.expression_modes
        if not modes:
            if m.expression_kind == "blendshape" and all(n in m.expression_names for n in ICT_EXPRESSIONS) \
                    and self.n_expression <= len(ICT_EXPRESSIONS):
                modes = ICT_EXPRESSIONS[:self.n_expression]
            else:
                modes = tuple(range(self.n_expression))
        idx = []
        for k in modes:
            if isinstance(k, str):
                if k not in m.expression_names:
                    raise ValueError(f"expression mode {k!r} not in the model's expression names")
                idx.append(m.expression_names.index(k))
            else:
                idx.append(int(k))
        idx = np.asarray(idx, np.int64)
        if len(set(idx.tolist())) != len(idx) or (len(idx) and (idx.min() < 0 or idx.max() >= m.n_expression)):
            raise ValueError(f"expression modes {modes} must be distinct modes of a model with "
                             f"{m.n_expression} expression modes")
        return idx

    def pivot_point(self) -> np.ndarray:
        if self.pivot is not None:
            return np.asarray(self.pivot, np.float64)
        v = self.model.mean
        return 0.5 * (v.min(0) + v.max(0))

    @property
    def yfov(self) -> float:
        return float(2 * np.arctan(0.5 * self.field_cm / self.camera_distance))

    # ---- β -------------------------------------------------------------------------------------
    @property
    def schema(self) -> BetaSchema:
        k, p, n, m = self.n_components, self.n_pose_components, self.n_identity, self.n_expression
        fields = []
        for tag, dim in (("id", n), ("expr", m), ("tex", self.n_texture)):
            if k > 1:
                fields.append((f"{tag}_w", k, "simplex"))
            fields += [(f"{tag}_mu", k * dim, "real"), (f"{tag}_sd", k * dim, "positive")]
        if p > 1:
            fields.append(("pose_w", p, "simplex"))
        fields += [("pose_mu", 3 * p, "real"), ("pose_kappa", 3 * p, "positive")]
        return BetaSchema.of(*fields)

    def default_beta(self) -> np.ndarray:
        """Identity and texture ≈ N(0, 1) (two components, scales 1.1 and 0.9, so symmetry is
        broken; the model's prior, as each mode is in units of its std); expression:
        blendshapes mostly near neutral (component 0: mean 0, sd 0.15, weight 0.6) or moderately
        expressive (mean 0.3, sd 0.2), PCA N(0, 0.5²); pose frontal: component 0 σ ≈ (15°, 10°, 5°),
        component 1 σ ≈ (30°, 12°, 6°), weights 0.7 / 0.3 (κ = 1/σ²)."""
        k, p, n, m = self.n_components, self.n_pose_components, self.n_identity, self.n_expression
        v = {}
        id_sd = np.linspace(1.1, 0.9, k) if k > 1 else np.ones(1)
        v["id_mu"] = np.zeros(k * n)
        v["id_sd"] = np.repeat(id_sd, n)
        v["tex_mu"] = np.zeros(k * self.n_texture)
        v["tex_sd"] = np.repeat(id_sd, self.n_texture)
        blend = self.model.expression_kind == "blendshape"
        if blend and k > 1:
            e_mu, e_sd = np.linspace(0.0, 0.3, k), np.linspace(0.15, 0.2, k)
        elif blend:
            e_mu, e_sd = np.full(1, 0.1), np.full(1, 0.15)
        else:
            e_mu, e_sd = np.zeros(k), (np.linspace(0.55, 0.45, k) if k > 1 else np.full(1, 0.5))
        v["expr_mu"] = np.repeat(e_mu, m)
        v["expr_sd"] = np.repeat(e_sd, m)
        if k > 1:
            w = np.linspace(0.6, 0.4, k) if blend else np.full(k, 1.0 / k)
            v["id_w"] = np.full(k, 1.0 / k)
            v["tex_w"] = np.full(k, 1.0 / k)
            v["expr_w"] = w / w.sum()
        sig = np.radians(np.array([[15.0, 10.0, 5.0], [30.0, 12.0, 6.0]]))
        sig = np.concatenate([sig, np.repeat(sig[-1:], max(p - 2, 0), axis=0)])[:p]
        v["pose_mu"] = np.zeros(3 * p)
        v["pose_kappa"] = (1.0 / sig ** 2).ravel()
        if p > 1:
            w = np.array([0.7] + [0.3 / (p - 1)] * (p - 1))
            v["pose_w"] = w
        return self.schema.unconstrain(v)

    # ---- random numbers ------------------------------------------------------------------------
    def draws(self, seed: int) -> dict:
        """Every random number of a sample, from ``seed`` alone, in fixed-size independent blocks."""
        m = self.model
        streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(8)]
        return {
            "id_u": streams[0].uniform(), "id_z": streams[0].standard_normal(self.n_identity),
            "expr_u": streams[1].uniform(), "expr_z": streams[1].standard_normal(self.n_expression),
            "pose_u": streams[2].uniform(), "pose_v": streams[2].uniform(size=3),
            "rest_id_z": streams[3].standard_normal(max(m.n_identity - self.n_identity, 0)),
            "rest_expr_z": streams[4].standard_normal(m.n_expression),
            "light_u": streams[5].uniform(size=(self.max_lights, 3)),
            "tex_u": streams[6].uniform(), "tex_z": streams[6].standard_normal(self.n_texture),
            "rest_tex_z": streams[7].standard_normal(max(self.albedo_space.n_modes - self.n_texture, 0)),
        }

    # ---- grammar -------------------------------------------------------------------------------
    def sample_params(self, beta, seed: int) -> dict:
        """Coefficients and pose of sample (β, seed), without building or rendering the mesh.

        Returns ``identity`` (model.n_identity,), ``expression`` (model.n_expression,), ``texture``
        (the albedo space's modes,), ``pose`` (yaw, pitch, roll) in radians, and the chosen
        components ``id_component``, ``expr_component``, ``tex_component``, ``pose_component``.
        """
        self.schema.check(beta, "beta")
        p = self.schema.constrained(np.asarray(beta, np.float64))
        r = self.draws(seed)
        mdl = self.model
        k, n, m = self.n_components, self.n_identity, self.n_expression
        if n > mdl.n_identity:
            raise ValueError(f"n_identity {n} > the model's {mdl.n_identity} identity modes")
        if m > mdl.n_expression:
            raise ValueError(f"n_expression {m} > the model's {mdl.n_expression} expression modes")
        t, space = self.n_texture, self.albedo_space
        if t > space.n_modes:
            raise ValueError(f"n_texture {t} > the {space.n_modes} albedo modes of the model's space "
                             f"({', '.join(space.names[:8])}{', ...' if space.n_modes > 8 else ''})")

        ci = int(categorical_ppf(r["id_u"], p["id_w"])) if k > 1 else 0
        ident = np.empty(mdl.n_identity)
        ident[:n] = p["id_mu"][ci * n:(ci + 1) * n] + p["id_sd"][ci * n:(ci + 1) * n] * r["id_z"]
        ident[n:] = self.rest_identity_std * r["rest_id_z"]

        ce = int(categorical_ppf(r["expr_u"], p["expr_w"])) if k > 1 else 0
        blend = mdl.expression_kind == "blendshape"
        expr = self.rest_expression_scale * (np.abs(r["rest_expr_z"]) if blend else r["rest_expr_z"])
        chosen = p["expr_mu"][ce * m:(ce + 1) * m] + p["expr_sd"][ce * m:(ce + 1) * m] * r["expr_z"]
        expr[self.expression_indices()] = chosen
        if blend:
            expr = np.clip(expr, 0.0, 1.0)

        ct = int(categorical_ppf(r["tex_u"], p["tex_w"])) if k > 1 else 0
        tex = np.empty(space.n_modes)
        tex[:t] = p["tex_mu"][ct * t:(ct + 1) * t] + p["tex_sd"][ct * t:(ct + 1) * t] * r["tex_z"]
        tex[t:] = self.rest_texture_std * r["rest_tex_z"]

        pp = self.n_pose_components
        cp = int(categorical_ppf(r["pose_u"], p["pose_w"])) if pp > 1 else 0
        mu = p["pose_mu"][3 * cp:3 * cp + 3]
        kappa = p["pose_kappa"][3 * cp:3 * cp + 3]
        lim = np.radians(np.asarray(self.max_pose_deg, np.float64))
        pose = np.clip(mu + vonmises_ppf(r["pose_v"], kappa), -lim, lim)
        return {"identity": ident, "expression": expr, "texture": tex, "pose": pose,
                "id_component": ci, "expr_component": ce, "tex_component": ct, "pose_component": cp}

    def face_vertices(self, beta, seed: int) -> tuple[np.ndarray, dict]:
        """The unposed face mesh's vertices (model frame, cm) and ``sample_params``."""
        params = self.sample_params(beta, seed)
        return self.model.vertices(params["identity"], params["expression"]), params

    def albedo(self, params: dict) -> np.ndarray | None:
        """(V, 3) linear RGB albedo per vertex for ``sample_params``' texture coefficients, or None
        without ``albedo_variation`` (the part's constant ``base_albedo`` then)."""
        return self.albedo_space.linear(params["texture"]) if self.albedo_variation else None

    def lights(self, seed: int) -> tuple:
        """1..max_lights directional lights within ``light_cone_deg`` of the view axis (seed only)."""
        return random_lights(self.draws(seed)["light_u"], self.min_lights, self.max_lights,
                             self.light_cone_deg, self.light_intensity)

    def scene(self, parts, pose, lights, meta: dict | None = None) -> Scene:
        """Pose model-frame ``MeshPart``s by (yaw, pitch, roll) about the pivot and frame them with the
        generator's camera. Shared by ``generate`` and the scan re-rendering protocol."""
        piv = self.pivot_point()
        rot = rotation_matrix(*np.asarray(pose, np.float64))
        posed = tuple(dataclasses.replace(q, vertices=(np.asarray(q.vertices, np.float64) - piv) @ rot.T + piv)
                      for q in parts)
        eye = piv + np.array([0.0, 0.0, self.camera_distance])
        cam = Camera(look_at(eye, piv), yfov=self.yfov, znear=1.0, zfar=10.0 * self.camera_distance)
        return Scene(meshes=posed, camera=cam, lights=tuple(lights), ambient=self.ambient,
                     width=self.image_size, height=self.image_size, meta=dict(meta or {}))

    def generate(self, beta, seed: int) -> Scene:
        verts, params = self.face_vertices(beta, seed)
        part = MeshPart(verts, self.model.triangles, color=(self.base_albedo,) * 3, smooth=self.smooth,
                        vertex_colors=self.albedo(params))
        meta = {"pose_deg": np.degrees(params["pose"]).round(3).tolist(),
                "components": [params["id_component"], params["expr_component"], params["tex_component"],
                               params["pose_component"]]}
        return self.scene((part,), params["pose"], self.lights(seed), meta)


GENERATOR_FIELDS = ("model_path", "n_identity", "n_expression", "n_texture", "n_components", "n_pose_components")


def generator_from_config(data) -> FaceGenerator:
    """The face experiment's generator from ``config.data`` (a ConfigDict or a plain dict, e.g. a
    checkpoint's config): ``size`` and the optional ``GENERATOR_FIELDS``; everything else (camera,
    lights, pose limits) is FaceGenerator's default. Training (setups/faces.py) and re-rendering the
    scans for evaluation (data/scans.load_scans_format) both build it here, so they cannot differ."""
    kw = {f: data[f] for f in GENERATOR_FIELDS if f in data}
    kw["model_path"] = kw.get("model_path") or ""
    return FaceGenerator(image_size=int(data["size"]), **{k: (v if k == "model_path" else int(v))
                                                          for k, v in kw.items()})
