"""Toy data sets for the demo, in plain Python (no numpy, no scikit-learn).

Not a port of scikit-learn: the same recipe as sklearn.datasets.make_moons, drawn
from Python's random module, so the points differ from scikit-learn's for the same seed.
"""
from __future__ import annotations

import math
import random


def moons(n_samples: int = 100, noise: float = 0.1,
          seed: int = 1337) -> tuple[list[list[float]], list[int]]:
    """Two interleaving half circles: (X, y), X a list of [x0, x1], y in {-1, 1}.

    As make_moons(n_samples, noise=noise, shuffle=True): n_samples // 2 points on
    the upper half of the unit circle (label -1), the rest on the lower half circle
    centred at (1, 0.5) (label 1), at evenly spaced angles; then shuffled, then
    Gaussian noise of standard deviation `noise` added to each coordinate.
    A private random.Random(seed) draws everything: the global random state is untouched.
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"n_samples must be an int >= 2, got {n_samples!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    n_out = n_samples // 2
    n_in = n_samples - n_out
    outer = [[math.cos(t), math.sin(t)] for t in _linspace(0.0, math.pi, n_out)]
    inner = [[1 - math.cos(t), 1 - math.sin(t) - 0.5] for t in _linspace(0.0, math.pi, n_in)]
    X = outer + inner
    y = [-1] * n_out + [1] * n_in
    rng = random.Random(seed)
    order = list(range(n_samples))
    rng.shuffle(order)
    X = [X[i] for i in order]
    y = [y[i] for i in order]
    if noise:
        X = [[x0 + rng.gauss(0.0, noise), x1 + rng.gauss(0.0, noise)] for x0, x1 in X]
    return X, y


def _linspace(start, stop, n):
    """numpy.linspace(start, stop, n) as a list: both ends included."""
    if n == 1:
        return [start]
    step = (stop - start) / (n - 1)
    return [start + i * step for i in range(n - 1)] + [stop]
