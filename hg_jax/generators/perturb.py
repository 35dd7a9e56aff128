"""The perturbation grammar of the NYU experiment (paper §5.2), host side, no jax.

    S → E, P;   E → T_shapes · R_shapes · E0;   P → T_camera · R_camera · P0

E0 / P0 is a base scene and one of its cameras (``indoor.procedural_scene`` or a folder read by
``scene_files.load_base_scene``). Every object gets its own translation offset on the floor plane
(world x, z) from a mixture of K uncorrelated (diagonal) Gaussians and its own yaw offset from a
mixture of K von Mises; the camera gets a world (x, y, z) offset from a K-Gaussian mixture and
(yaw, pitch, roll) offsets from a K-von-Mises mixture (one component choice per draw, shared by the
coordinates of that draw). Camera angles add to the base pose's R_y(yaw) R_x(pitch) R_z(roll)
decomposition (``indoor.camera_angles``), so "pitch" stays the tilt against the horizon.

β (K = ``components``; constrained values by ``schema.constrained``):

    obj_shift_w   K     simplex   mixture weights of the object (x, z) offsets
    obj_shift_mu  2K    real      component means, metres, [k0_x, k0_z, k1_x, k1_z, ...]
    obj_shift_sd  2K    positive  component standard deviations, metres
    obj_yaw_w     K     simplex
    obj_yaw_mu    K     real      radians
    obj_yaw_kappa K     positive  von Mises concentrations
    cam_shift_w   K     simplex
    cam_shift_mu  3K    real      world (x, y, z) per component
    cam_shift_sd  3K    positive
    cam_rot_w     K     simplex
    cam_rot_mu    3K    real      (yaw, pitch, roll) per component, radians
    cam_rot_kappa 3K    positive

(for K = 1 the ``*_w`` fields are left out: a simplex needs two entries). ``default_beta()``:
small perturbations, a narrow component with weight 0.7 and a wider one with weight 0.3: object
shift sd 0.1 / 0.3 m, object yaw κ 100 / 10 (≈ 6° / 18°), camera shift sd 0.1 / 0.25 m (y: 0.05 /
0.1), camera yaw/pitch/roll κ 400 / 60 (≈ 3° / 7.5°); all means 0.

Common random numbers: ``draws(seed)`` takes, from ``np.random.default_rng(seed)`` and in a fixed
order, for each of ``max_objects`` object slots two component uniforms, two standard normals and
one von Mises uniform, and for the camera two component uniforms, three normals and three von Mises
uniforms -- whether or not a slot is used, whatever β is. A component is the inverse CDF of its
uniform under the weights; a Gaussian value is mu + sd·z; a von Mises value is mu + F⁻¹_κ(u)
(``vonmises_ppf``, the exact inverse CDF), so every value is continuous in β (the component
choice is piecewise constant and jumps only where a weight's CDF crosses the uniform). The seed
also picks the base scene: scene ``seed mod n_scenes`` and its camera ``(seed // n_scenes) mod
n_cameras``.

Clamping (documented, continuous): an object keeps its height (y offset 0: furniture stays on the
floor) and its centre is clamped so that its yawed footprint stays inside the room's interior box;
perturbed objects may overlap each other (the paper's grammar has no collision rule). The camera
eye is clamped into the interior box shrunk by ``camera_margin`` (x, z and ceiling; at least
``camera_min_height`` above the floor), and pitch to ±85° (no flips over the pole). The camera
may end up inside a piece of furniture (back faces are culled, so it sees past it).

Framing: with ``square_crop`` (default) a square render shows the centred square crop of the base
camera's image (NYU: the central 480×480 of 640×480, vertical and horizontal FOV 50°), exactly
what the real loaders feed the network (data/rgbd.py), so synthetic and real pixels subtend the
same angle.

Unperturbed renders (the paper's "original" row): ``generate_base(seed)`` is the base scene and
camera that ``generate(beta, seed)`` perturbs, whatever β; ``dataclasses.replace(gen,
perturb=False)`` is a generator whose ``generate`` ignores β and returns exactly that, so
``RenderedSampler(replace(gen, perturb=False), ...)`` renders the original data.
"""
from __future__ import annotations

import dataclasses
from typing import Union

import numpy as np
from hg_jax.beta import BetaSchema
from hg_jax.generators import indoor
from hg_jax.generators.sampling import categorical_ppf, vonmises_ppf
from hg_jax.render.scene import Scene

_GROUPS = (("obj_shift", 2, "gauss"), ("obj_yaw", 1, "vm"), ("cam_shift", 3, "gauss"), ("cam_rot", 3, "vm"))


def make_schema(components: int) -> BetaSchema:
    k = int(components)
    if k < 1:
        raise ValueError(f"components must be >= 1, got {components}")
    fields = []
    for name, dim, kind in _GROUPS:
        if k > 1:
            fields.append((f"{name}_w", k, "simplex"))
        second = "sd" if kind == "gauss" else "kappa"
        fields += [(f"{name}_mu", k * dim, "real"), (f"{name}_{second}", k * dim, "positive")]
    return BetaSchema.of(*fields)


# ---- mixtures -----------------------------------------------------------------------------------
def sample_perturbation(p: dict, r: dict, components: int) -> dict:
    """Offsets from constrained β ``p`` and the draws ``r`` of one seed (all object slots).

    Returns ``obj_shift`` (S, 2) world (x, z) metres, ``obj_yaw`` (S,), ``cam_shift`` (3,),
    ``cam_rot`` (3,) (yaw, pitch, roll offsets), and the chosen components ``*_k``."""
    k = int(components)
    out = {}
    for name, dim, kind in _GROUPS:
        prefix = name.split("_")[0]
        u = r[f"{prefix}_u"][..., 0 if kind == "gauss" else 1]
        comp = categorical_ppf(u, p[f"{name}_w"]) if k > 1 else np.zeros(np.shape(u), int)
        mu = np.asarray(p[f"{name}_mu"]).reshape(k, dim)[comp]
        if kind == "gauss":
            val = mu + np.asarray(p[f"{name}_sd"]).reshape(k, dim)[comp] * r[f"{prefix}_z"]
        else:
            kap = np.asarray(p[f"{name}_kappa"]).reshape(k, dim)[comp]
            val = mu + vonmises_ppf(r[f"{prefix}_v"], kap)
        if name == "obj_yaw":
            val = val[..., 0]
        out[name], out[f"{name}_k"] = val, comp
    return out


# ---- base scene sources ---------------------------------------------------------------------------
_BASE_CACHE: dict = {}


def _base_scene(source, index: int, num_cameras: int) -> "indoor.BaseScene":
    key = (source if isinstance(source, str) else tuple(source), index, num_cameras)
    if key not in _BASE_CACHE:
        if source == "procedural":
            _BASE_CACHE[key] = indoor.procedural_scene(index, num_cameras=num_cameras)
        else:
            from hg_jax.generators.scene_files import load_base_scene

            _BASE_CACHE[key] = load_base_scene(source[index])
    return _BASE_CACHE[key]


@dataclasses.dataclass(frozen=True)
class PerturbedIndoorGenerator:
    """f(β, seed) -> Scene: a base indoor scene perturbed by the grammar (see the module doc).

    base_scenes: "procedural" (scene ids ``first_scene .. first_scene + num_scenes - 1`` of
    ``indoor.procedural_scene``) or a tuple of folders for ``scene_files.load_base_scene``
    (``num_scenes`` is then their number). Base scenes are built lazily, once per process."""
    base_scenes: Union[str, tuple] = "procedural"
    num_scenes: int = 32
    first_scene: int = 0
    cameras_per_scene: int = 3           # procedural scenes only
    image_size: int = 64
    components: int = 2
    max_objects: int = 32
    perturb: bool = True
    camera_margin: float = 0.15
    camera_min_height: float = 0.3
    square_crop: bool = True             # render the centred square crop of the base camera's view

    def __post_init__(self):
        if self.base_scenes != "procedural":
            if isinstance(self.base_scenes, (str, bytes)) or not len(self.base_scenes):
                raise ValueError("PerturbedIndoorGenerator.base_scenes must be 'procedural' or a non-empty "
                                 f"tuple of scene folders, got {self.base_scenes!r}")
            object.__setattr__(self, "base_scenes", tuple(str(b) for b in self.base_scenes))
            object.__setattr__(self, "num_scenes", len(self.base_scenes))
        if self.num_scenes < 1 or self.first_scene < 0:
            raise ValueError(f"PerturbedIndoorGenerator: need num_scenes >= 1 and first_scene >= 0, got "
                             f"{self.num_scenes}, {self.first_scene}")
        if self.image_size < 8:
            raise ValueError(f"PerturbedIndoorGenerator.image_size must be >= 8, got {self.image_size}")
        if self.components < 1 or self.max_objects < 1 or self.cameras_per_scene < 1:
            raise ValueError("PerturbedIndoorGenerator: components, max_objects and cameras_per_scene must be >= 1")

    @property
    def schema(self) -> BetaSchema:
        return make_schema(self.components)

    def default_beta(self) -> np.ndarray:
        return self.beta_from(obj_shift_sd=(0.1, 0.3), obj_yaw_kappa=(100.0, 10.0),
                              cam_shift_sd=((0.1, 0.05, 0.1), (0.25, 0.1, 0.25)),
                              cam_rot_kappa=((400.0,) * 3, (60.0,) * 3))

    def beta_from(self, weights=(0.7, 0.3), **values) -> np.ndarray:
        """β from readable values: per group, ``<group>_mu`` / ``_sd`` / ``_kappa`` given per
        component (broadcast over the coordinates) or flat; ``weights`` (or ``<group>_w``) for every
        mixture; means default to 0."""
        k = self.components
        named = {}
        for name, dim, kind in _GROUPS:
            second = "sd" if kind == "gauss" else "kappa"
            if k > 1:
                w = np.asarray(values.pop(f"{name}_w", weights if len(weights) == k else np.ones(k)), np.float64)
                named[f"{name}_w"] = w
            for part, default in (("mu", 0.0), (second, 0.1 if kind == "gauss" else 100.0)):
                v = np.asarray(values.pop(f"{name}_{part}", default), np.float64)
                if v.size == k * dim:
                    v = v.reshape(k, dim)
                elif v.size == k:
                    v = np.repeat(v.reshape(k, 1), dim, axis=1)
                elif v.size == 1:
                    v = np.full((k, dim), float(v.reshape(())))
                else:
                    raise ValueError(f"beta value {name}_{part}: expected 1, {k} or {k * dim} numbers, got {v.size}")
                named[f"{name}_{part}"] = v.reshape(-1)
        if values:
            raise ValueError(f"unknown beta values {sorted(values)}; fields are {self.schema.names}")
        return self.schema.unconstrain(named)

    # ---- random numbers ------------------------------------------------------------------------
    def draws(self, seed: int) -> dict:
        """Everything random about a sample, from the seed alone (never from β)."""
        rng = np.random.default_rng(int(seed))
        s = self.max_objects
        return {"obj_u": rng.uniform(size=(s, 2)), "obj_z": rng.standard_normal((s, 2)),
                "obj_v": rng.uniform(size=(s, 1)),
                "cam_u": rng.uniform(size=2), "cam_z": rng.standard_normal(3), "cam_v": rng.uniform(size=3)}

    def perturbation(self, beta, seed: int) -> dict:
        """The sampled offsets for every object slot and the camera (no scene built, no render)."""
        self.schema.check(beta, "beta")
        p = self.schema.constrained(np.asarray(beta, np.float64))
        return sample_perturbation(p, self.draws(seed), self.components)

    # ---- scenes --------------------------------------------------------------------------------
    def pick(self, seed: int):
        """(base scene, camera index) that ``seed`` perturbs."""
        seed = int(seed)
        i = seed % self.num_scenes
        base = _base_scene(self.base_scenes, i if self.base_scenes != "procedural" else self.first_scene + i,
                           self.cameras_per_scene)
        if self.square_crop and base.intrinsics is not None:
            base = dataclasses.replace(base, intrinsics=indoor.centre_crop_intrinsics(base.intrinsics))
        return base, (seed // self.num_scenes) % len(base.cameras)

    def base_scene(self, index: int) -> "indoor.BaseScene":
        return self.pick(index)[0]

    def generate_base(self, seed: int) -> Scene:
        """The unperturbed scene and camera ``generate(·, seed)`` starts from."""
        base, cam = self.pick(seed)
        return base.to_scene(cam, self.image_size, self.image_size,
                             meta={"base_scene": base.name, "camera": cam, "perturbed": False})

    def generate(self, beta, seed: int) -> Scene:
        if not self.perturb:
            self.schema.check(beta, "beta")
            return self.generate_base(seed)
        base, cam = self.pick(seed)
        if len(base.objects) > self.max_objects:
            raise ValueError(f"base scene {base.name} has {len(base.objects)} objects, more than "
                             f"max_objects={self.max_objects}; raise max_objects")
        d = self.perturbation(beta, seed)
        placements, shifts = self.place_objects(base, d)
        pose = self.place_camera(base, base.cameras[cam], d)
        return base.to_scene(pose, self.image_size, self.image_size, placements,
                             meta={"base_scene": base.name, "camera": cam, "perturbed": True,
                                   "clamped_objects": int(np.sum(shifts))})

    def place_objects(self, base, d):
        """Perturbed (translation, yaw) per object, clamped into the room; and which were clamped."""
        lo, hi = base.bounds[0], base.bounds[1]
        out, clamped = [], []
        for i, o in enumerate(base.objects):
            yaw = o.yaw + float(d["obj_yaw"][i])
            t = np.asarray(o.translation, np.float64).copy()
            t[0] += d["obj_shift"][i, 0]
            t[2] += d["obj_shift"][i, 1]
            ext = indoor.footprint_extent(o.half_extents, yaw)
            want = t.copy()
            for axis, e in ((0, ext[0]), (2, ext[1])):
                a, b = lo[axis] + e, hi[axis] - e
                t[axis] = 0.5 * (lo[axis] + hi[axis]) if a > b else np.clip(t[axis], a, b)
            clamped.append(not np.allclose(t, want))
            out.append((t, yaw))
        return out, np.array(clamped, bool)

    def place_camera(self, base, pose, d) -> np.ndarray:
        yaw, pitch, roll = indoor.camera_angles(pose)
        eye = np.asarray(pose, np.float64)[:3, 3] + d["cam_shift"]
        lo, hi = base.bounds[0], base.bounds[1]
        m = self.camera_margin
        for axis in (0, 2):
            eye[axis] = np.clip(eye[axis], lo[axis] + m, max(hi[axis] - m, lo[axis] + m))
        eye[1] = np.clip(eye[1], lo[1] + self.camera_min_height, max(hi[1] - m, lo[1] + self.camera_min_height))
        r = d["cam_rot"]
        lim = np.radians(85.0)
        return indoor.camera_pose(eye, yaw + r[0], float(np.clip(pitch + r[1], -lim, lim)), roll + r[2])
