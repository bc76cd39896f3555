"""Small synthetic classification data for the training tests."""

import numpy as np


def blobs(n=300, classes=3, features=8, seed=0, spread=3.0):
    """Clusters around random centres (class c near centre c): easy, but not trivially so."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=spread, size=(classes, features))
    y = rng.integers(0, classes, size=n)
    x = (centres[y] + rng.normal(size=(n, features))).astype(np.float32)
    return x, y
