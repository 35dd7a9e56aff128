"""The CSG grammar as it was built on trimesh objects (before solids.py), kept as the reference
the array path is compared against in test_solids.py. Same draws, same grammar."""
import numpy as np
import trimesh

from hg_jax.generators import primitives, sampling
from hg_jax.generators.csg import _U, _Z, PRIMITIVES, SCHEMA, CSGGenerator


class TrimeshCSG(CSGGenerator):
    def solid(self, beta, seed):
        self.schema.check(beta, "beta")
        p = SCHEMA.constrained(np.asarray(beta, np.float64))
        r = self.draws(seed)
        meta = {"csg_nodes": 0, "csg_fallbacks": 0, "primitives": [], "params": [], "transforms": [],
                "attach": []}
        return self._expand(1, 0, p, r, meta), meta

    def shape(self, beta, seed):
        return self.solid(beta, seed)

    def _primitive(self, node, p, r, meta):
        z = r["z"][node]
        cdf = np.cumsum(p["primitive_w"])
        i = int(np.searchsorted(cdf, r["u"][node, _U["prim"]] * cdf[-1], side="right"))
        kind = PRIMITIVES[min(i, len(PRIMITIVES) - 1)]
        if kind == "sphere":
            value = self._lognormal(p, "sphere_radius", z[_Z["sphere_radius"]])
            mesh = primitives.sphere(value, self.sphere_subdivisions)
        elif kind == "cube":
            value = self._lognormal(p, "box_extent", z[_Z["box_extent"]])
            mesh = primitives.box(value)
        elif kind == "truncated_cone":
            ratio_logit = p["cone_top_ratio_mu"][0] + p["cone_top_ratio_sd"][0] * z[_Z["cone_top_ratio"]]
            value = (self._lognormal(p, "cone_radius", z[_Z["cone_radius"]]), 1 / (1 + np.exp(-ratio_logit)),
                     self._lognormal(p, "cone_height", z[_Z["cone_height"]]))
            mesh = primitives.truncated_cone(*value, sections=self.cone_sections)
        else:
            value = self._lognormal(p, "tetra_size", z[_Z["tetra_size"]])
            mesh = primitives.tetrahedron(value)
        meta["primitives"].append(kind)
        meta["params"].append((kind, np.atleast_1d(np.asarray(value, np.float64)).tolist()))
        return mesh

    def _expand(self, node, depth, p, r, meta):
        meta["csg_nodes"] += 1
        u = r["u"][node]
        if depth >= self.max_depth or u[_U["expand"]] >= p["p_expand"][0]:
            return self._primitive(node, p, r, meta)
        left = self._expand(2 * node, depth + 1, p, r, meta)
        right = self._expand(2 * node + 1, depth + 1, p, r, meta)
        right = self._transform(node, left, right, p, r, meta)
        union = u[_U["op"]] < p["p_union"][0]
        try:
            out = (trimesh.boolean.union if union else trimesh.boolean.difference)(
                [left, right], engine="manifold")
            ok = out is not None and len(out.faces) > 0 and out.is_watertight and out.volume > 1e-6
        except Exception:
            ok = False
        if not ok:
            meta["csg_fallbacks"] += 1
            return left
        return out

    def _transform(self, node, parent, child, p, r, meta):
        z = r["z"][node]
        scale = self._lognormal(p, "scale", z[_Z["scale"]])
        angle = self._lognormal(p, "angle", z[_Z["angle"]])
        offset = self._lognormal(p, "offset", z[_Z["offset"]])
        point, direction = primitives.surface_point(parent, z[_Z["attach"]])
        m = np.eye(4)
        m[:3, :3] = sampling.axis_angle_rotation(z[_Z["axis"]], angle) * scale
        m[:3, 3] = point + offset * direction
        meta["transforms"].append((float(scale), float(angle), float(offset)))
        meta["attach"].append(m[:3, 3].copy())
        return child.copy().apply_transform(m)
