"""State that crosses outer steps, as frozen dataclasses (pytrees, so orbax can save them whole)."""
from __future__ import annotations

from typing import Any

import flax.struct
import numpy as np


@flax.struct.dataclass
class OuterState:
    """Everything one outer step needs besides the host renders.

    ``key`` is the run's base key; step t uses ``fold_in(key, t)``, so the RNG position is ``step``.
    ``beta`` stays a float64 host array: it crosses to the generators, never into jit.
    """

    step: Any                 # int
    beta: Any                 # (d,) float64
    beta_opt_state: Any       # optax state of the β optimizer (RMSprop)
    params: Any               # network weights, carried over between outer steps (Eq. 11)
    inner_opt_state: Any      # the inner optimizer's state, carried over as well
    key: Any                  # base jax key
    skipped_updates: Any = 0  # β updates skipped because the gradient was not finite
    method_state: Any = None  # whatever else a method carries (baselines, populations, ...)

    def replace_beta(self, beta) -> "OuterState":
        return self.replace(beta=np.asarray(beta, np.float64))
