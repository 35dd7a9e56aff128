"""The perturbation grammar of the NYU experiment (paper §5.2), host side, no jax.

    S → E, P;   E → T_shapes · R_shapes · E0;   P → T_camera · R_camera · P0

E0 / P0 is a base scene and one of its cameras (``indoor.procedural_scene`` or a folder read by
``scene_files.load_base_scene``). Objects and camera are perturbed alike: each object gets its own
world (x, y, z) translation offset from a mixture of K uncorrelated (diagonal) Gaussians and its
own (yaw, pitch, roll) offsets from a mixture of K von Mises; the camera gets one of each from its
own two mixtures (one component choice per draw, shared by the coordinates of that draw).
Camera angles add to the base pose's R_y(yaw) R_x(pitch) R_z(roll) decomposition
(``indoor.camera_angles``), so "pitch" stays the tilt against the horizon. An object is turned as
R_y(yaw₀ + yaw) R_x(pitch) R_z(roll) about its local origin (the centre of its footprint on its
support; base objects stand upright, yaw₀ is the base yaw): pitch > 0 tips its top towards its
front (local +Z), roll > 0 tips its top towards its local −X.

β (K = ``components``; constrained values by ``schema.constrained``):

    obj_shift_w   K     simplex   mixture weights of the object (x, y, z) offsets
    obj_shift_mu  3K    real      component means, metres, [k0_x, k0_y, k0_z, k1_x, ...]
    obj_shift_sd  3K    positive  component standard deviations, metres
    obj_rot_w     K     simplex
    obj_rot_mu    3K    real      (yaw, pitch, roll) per component, radians
    obj_rot_kappa 3K    positive  von Mises concentrations
    cam_shift_w   K     simplex
    cam_shift_mu  3K    real      world (x, y, z) per component
    cam_shift_sd  3K    positive
    cam_rot_w     K     simplex
    cam_rot_mu    3K    real      (yaw, pitch, roll) per component, radians
    cam_rot_kappa 3K    positive

(for K = 1 the ``*_w`` fields are left out: a simplex needs two entries). ``default_beta()``:
small perturbations, a narrow component with weight 0.7 and a wider one with weight 0.3; all means
0. Objects: shift sd (x, y, z) = (0.1, 0.005, 0.1) / (0.3, 0.01, 0.3) m, yaw κ 100 / 10
(≈ 6° / 18°), pitch and roll κ 1e4 / 2500 (≈ 0.6° / 1.1°: upright to the eye). Camera: shift sd
0.1 / 0.25 m (y: 0.05 / 0.1), yaw/pitch/roll κ 400 / 60 (≈ 3° / 7.5°).

Common random numbers: ``draws(seed)`` takes, from ``np.random.default_rng(seed)`` and in a fixed
order, for each of ``max_objects`` object slots two component uniforms, three standard normals and
three von Mises uniforms, and for the camera two component uniforms, three normals and three von
Mises uniforms -- whether or not a slot is used, whatever β is. (The objects' y normals and
pitch / roll uniforms come last in the stream, so the x, z and yaw draws of a seed are those of a
grammar without them.) A component is the inverse CDF of its uniform under the weights
(``sampling.categorical_ppf``); a Gaussian value is mu + sd·z; a von Mises value is
mu + F⁻¹_κ(u) (``sampling.vonmises_ppf``, the exact inverse CDF), so every value is continuous in
β (the component choice is piecewise constant and jumps only where a weight's CDF crosses the
uniform). The seed also picks the base scene: scene ``seed mod n_scenes`` and its camera
``(seed // n_scenes) mod n_cameras``.

Implausible placements (a documented policy, continuous in β, tests/test_perturb.py): an object's
extent is the box [−hx, hx] × [0, height] × [−hz, hz] of its local frame, turned with it.
- Support: its lowest point (of the turned box: a tilted object whose box corner is empty space,
  e.g. between chair legs, stands that little above the floor) goes to its base lowest point plus
  the y offset, clamped to at least the floor: a tilted object rests on its support instead of sinking into it, a negative y offset
  leaves it on the floor (so β can learn "on the floor" with a negative y mean), and a positive one
  lifts it -- it floats by that much, which is what the grammar's y translation means; β0 keeps it
  within millimetres. The top stays below the ceiling when the object fits under it.
- Walls: its centre is clamped so that its turned box stays inside the room's interior in x and
  z; an object wider than the room is centred in it.
- Objects may overlap each other and objects standing on others may sink into them (the paper's
  grammar has no collision rule). ``scene.meta["clamped_objects"]`` counts the objects a clamp
  moved (floor, ceiling or walls).
The camera eye is clamped into the interior box shrunk by ``camera_margin`` (x, z and ceiling; at
least ``camera_min_height`` above the floor), and pitch to ±85° (no flips over the pole). The
camera may end up inside a piece of furniture (back faces are culled, so it sees past it).

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
from hg_jax.generators.sampling import categorical_ppf, vonmises_ppf, yaw_pitch_roll
from hg_jax.render.scene import Scene

_GROUPS = (("obj_shift", 3, "gauss"), ("obj_rot", 3, "vm"), ("cam_shift", 3, "gauss"), ("cam_rot", 3, "vm"))


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

    Returns ``obj_shift`` (S, 3) world (x, y, z) metres, ``obj_rot`` (S, 3) (yaw, pitch, roll)
    radians, ``cam_shift`` (3,), ``cam_rot`` (3,), and the chosen components ``*_k``."""
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
        out[name], out[f"{name}_k"] = val, comp
    return out


def turned_box(half_extents, height: float, yaw: float, pitch: float, roll: float):
    """World-axis (min, max) corners, relative to the local origin, of an object's local box
    [−hx, hx] × [0, height] × [−hz, hz] turned by R_y(yaw) R_x(pitch) R_z(roll). Continuous in the
    angles (a max over the eight corners), and for an upright object the yawed footprint's extent."""
    hx, hz = half_extents
    corners = np.array([[x, y, z] for x in (-hx, hx) for y in (0.0, height) for z in (-hz, hz)], np.float64)
    turned = corners @ yaw_pitch_roll(yaw, pitch, roll).T
    return turned.min(0), turned.max(0)


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
        return self.beta_from(obj_shift_sd=((0.1, 0.005, 0.1), (0.3, 0.01, 0.3)),
                              obj_rot_kappa=((100.0, 1e4, 1e4), (10.0, 2500.0, 2500.0)),
                              cam_shift_sd=((0.1, 0.05, 0.1), (0.25, 0.1, 0.25)),
                              cam_rot_kappa=((400.0,) * 3, (60.0,) * 3))

    def beta_from(self, weights=(0.7, 0.3), **values) -> np.ndarray:
        """β from readable values: per group, ``<group>_mu`` / ``_sd`` / ``_kappa`` given as one
        number, one per component (broadcast over the coordinates), one row ``((x, y, z),)`` for
        every component, or flat; ``weights`` (or ``<group>_w``) for every mixture; means default
        to 0."""
        k = self.components
        named = {}
        for name, dim, kind in _GROUPS:
            second = "sd" if kind == "gauss" else "kappa"
            if k > 1:
                w = np.asarray(values.pop(f"{name}_w", weights if len(weights) == k else np.ones(k)), np.float64)
                named[f"{name}_w"] = w
            for part, default in (("mu", 0.0), (second, 0.1 if kind == "gauss" else 100.0)):
                v = np.asarray(values.pop(f"{name}_{part}", default), np.float64)
                if v.shape == (1, dim):
                    v = np.repeat(v, k, axis=0)
                elif v.size == k * dim:
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
        out = {"obj_u": rng.uniform(size=(s, 2)), "obj_z": rng.standard_normal((s, 2)),
               "obj_v": rng.uniform(size=(s, 1)),
               "cam_u": rng.uniform(size=2), "cam_z": rng.standard_normal(3), "cam_v": rng.uniform(size=3)}
        z_y, v_tilt = rng.standard_normal((s, 1)), rng.uniform(size=(s, 2))
        out["obj_z"] = np.concatenate([out["obj_z"][:, :1], z_y, out["obj_z"][:, 1:]], axis=1)   # x, y, z
        out["obj_v"] = np.concatenate([out["obj_v"], v_tilt], axis=1)                            # yaw, pitch, roll
        return out

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
        """Perturbed (translation, yaw, pitch, roll) per object, with the room's clamps (module doc);
        and which objects a clamp moved."""
        lo, hi = np.asarray(base.bounds[0], np.float64), np.asarray(base.bounds[1], np.float64)
        out, clamped = [], []
        for i, o in enumerate(base.objects):
            yaw, pitch, roll = o.yaw + float(d["obj_rot"][i, 0]), float(d["obj_rot"][i, 1]), float(d["obj_rot"][i, 2])
            box_lo, box_hi = turned_box(o.half_extents, o.height, yaw, pitch, roll)
            want = np.asarray(o.translation, np.float64) + d["obj_shift"][i]
            t = want.copy()
            for axis in (0, 2):
                a, b = lo[axis] - box_lo[axis], hi[axis] - box_hi[axis]
                t[axis] = 0.5 * (a + b) if a > b else np.clip(t[axis], a, b)
            # the lowest point moves with the y offset from where it was on the upright object
            bottom = o.translation[1] + d["obj_shift"][i, 1]
            top_room = max(hi[1] - (box_hi[1] - box_lo[1]), lo[1])
            t[1] = np.clip(bottom, lo[1], top_room) - box_lo[1]
            clamped.append(not np.allclose(t[[0, 2]], want[[0, 2]]) or bool(bottom != np.clip(bottom, lo[1], top_room)))
            out.append((t, yaw, pitch, roll))
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
