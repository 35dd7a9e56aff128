"""The β schema: a flat unconstrained vector with named slices.

β lives in R^d so that Gaussian perturbations β±δ and RMSprop steps are always legal. Each named
field says how its slice maps to the quantity a generator uses:

- ``real``:     identity (means, locations)
- ``positive``: exp (scales, spreads, concentrations)
- ``simplex``:  softmax over the slice (rule / mixture probabilities)
- ``prob``:     sigmoid (a single Bernoulli probability)

Field names follow one convention in every generator: ``<thing>_w`` mixture or categorical weights
(simplex), ``<thing>_mu`` a mean or location, ``<thing>_sd`` a standard deviation (of a Gaussian,
or of the log / logit of a log- / logit-normal value), ``<thing>_kappa`` a von Mises concentration,
``<thing>_rate`` a Poisson rate, ``p_<event>`` a Bernoulli probability; anything else is a plain
named quantity (``warp``, ``noise_contrast``).

This module imports no jax: generators on the host call it with numpy; the differentiable toy
generator passes ``xp=jax.numpy``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

KINDS = ("real", "positive", "simplex", "prob")


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    size: int
    kind: str = "real"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"beta field {self.name!r}: kind {self.kind!r} not in {KINDS}")
        if self.size < 1:
            raise ValueError(f"beta field {self.name!r}: size must be >= 1, got {self.size}")
        if self.kind == "simplex" and self.size < 2:
            raise ValueError(f"beta field {self.name!r}: a simplex needs size >= 2")


def _softmax(x, xp):
    z = x - xp.max(x, axis=-1, keepdims=True)
    e = xp.exp(z)
    return e / xp.sum(e, axis=-1, keepdims=True)


@dataclasses.dataclass(frozen=True)
class BetaSchema:
    fields: tuple[Field, ...]

    def __post_init__(self):
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate beta field names in {names}")

    @classmethod
    def of(cls, *fields: tuple) -> "BetaSchema":
        """``BetaSchema.of(("mu", 2), ("scale", 2, "positive"))``."""
        return cls(tuple(Field(*f) for f in fields))

    @property
    def size(self) -> int:
        return sum(f.size for f in self.fields)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def slices(self) -> dict[str, slice]:
        out, i = {}, 0
        for f in self.fields:
            out[f.name] = slice(i, i + f.size)
            i += f.size
        return out

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"no beta field {name!r}; fields are {self.names}")

    def check(self, beta, where: str = "beta") -> None:
        shape = tuple(np.shape(beta))
        if shape != (self.size,):
            raise ValueError(
                f"{where}: expected shape ({self.size},) for fields {self.names}, got {shape}")
        if not np.all(np.isfinite(np.asarray(beta))):
            raise ValueError(f"{where}: contains non-finite values")

    def raw(self, beta) -> dict[str, Any]:
        """Unconstrained slices by name."""
        return {n: beta[s] for n, s in self.slices().items()}

    def constrained(self, beta, xp=np) -> dict[str, Any]:
        """Slices mapped to the values a generator uses (probabilities, positive scales, ...)."""
        out = {}
        for f, (n, s) in zip(self.fields, self.slices().items()):
            v = beta[s]
            if f.kind == "positive":
                v = xp.exp(v)
            elif f.kind == "simplex":
                v = _softmax(v, xp)
            elif f.kind == "prob":
                v = 1.0 / (1.0 + xp.exp(-v))
            out[n] = v
        return out

    def unconstrain(self, values: Mapping[str, Sequence[float] | float]) -> np.ndarray:
        """Inverse of :meth:`constrained`: build β from human-readable values.

        Every field must be given. Simplex values are normalised and mapped to centred logits.
        """
        missing = set(self.names) - set(values)
        extra = set(values) - set(self.names)
        if missing or extra:
            raise ValueError(f"beta values: missing {sorted(missing)}, unknown {sorted(extra)}")
        parts = []
        for f in self.fields:
            v = np.broadcast_to(np.asarray(values[f.name], dtype=np.float64), (f.size,)).copy()
            if f.kind == "positive":
                if np.any(v <= 0):
                    raise ValueError(f"beta field {f.name!r}: positive values required, got {v}")
                v = np.log(v)
            elif f.kind == "simplex":
                if np.any(v <= 0):
                    raise ValueError(f"beta field {f.name!r}: probabilities must be > 0, got {v}")
                v = np.log(v / v.sum())
                v = v - v.mean()
            elif f.kind == "prob":
                if np.any((v <= 0) | (v >= 1)):
                    raise ValueError(f"beta field {f.name!r}: probability in (0,1) required, got {v}")
                v = np.log(v / (1 - v))
            parts.append(v)
        return np.concatenate(parts)

    def describe(self, beta) -> dict[str, list[float]]:
        """JSON-friendly constrained values, for logs and reports."""
        return {k: np.asarray(v, dtype=np.float64).round(6).tolist()
                for k, v in self.constrained(np.asarray(beta, dtype=np.float64)).items()}
