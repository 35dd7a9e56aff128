"""Picklable samplers with injected faults, for tests of the render pool (imported by workers)."""
import dataclasses
import os
import signal
import time

import numpy as np


@dataclasses.dataclass(frozen=True)
class Noise:
    """A deterministic 'render': the sample is a function of (β, seed) only."""
    size: int = 8

    def __call__(self, beta, seed):
        rng = np.random.default_rng(seed)
        img = rng.standard_normal((self.size, self.size, 1)).astype(np.float32) * np.float32(np.sum(beta))
        return {"image": img, "target": img * 2, "mask": np.ones_like(img)}


@dataclasses.dataclass(frozen=True)
class KillOnce(Noise):
    """Kills its own worker process with SIGKILL the first time it sees ``bad_seed`` (< 0: any seed)."""
    marker: str = ""
    bad_seed: int = 3

    def __call__(self, beta, seed):
        if (self.bad_seed < 0 or seed == self.bad_seed) and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__call__(beta, seed)


@dataclasses.dataclass(frozen=True)
class HangOnce(Noise):
    marker: str = ""
    bad_seed: int = 2

    def __call__(self, beta, seed):
        if seed == self.bad_seed and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            time.sleep(600)
        return super().__call__(beta, seed)


@dataclasses.dataclass(frozen=True)
class AlwaysFails(Noise):
    bad_seed: int = 5

    def __call__(self, beta, seed):
        if seed == self.bad_seed:
            raise ValueError("this seed never renders")
        return super().__call__(beta, seed)
