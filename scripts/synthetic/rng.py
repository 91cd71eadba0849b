"""The random numbers every weight is made of."""

from __future__ import annotations

import numpy as np


class Rng:
    """Uniform floats in [-1, 1) from raw PCG64 bits: 24-bit values, exact in
    float32, the same on every machine and numpy version."""

    def __init__(self, seed: int):
        self.bits = np.random.PCG64(seed)

    def uniform(self, n: int) -> np.ndarray:
        raw = self.bits.random_raw(n)
        return ((raw >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -23)) - np.float32(1.0)
