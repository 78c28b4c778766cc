"""Data for the semi-supervised detectors' tests: two kinds of anomalies that only labels can tell apart."""

from __future__ import annotations

import numpy as np


def two_kinds(seed: int = 0, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Normal rows, and two kinds of anomalies mirrored about the origin (+4 and -4 on the first two columns):
    an unsupervised detector cannot tell the kinds apart, labels can."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n + 30, 4))
    X[n : n + 15, :2] += 4.0   # kind A: rows n .. n+14
    X[n + 15 :, :2] -= 4.0     # kind B: rows n+15 .. n+29
    kind = np.r_[np.zeros(n), np.ones(15), 2 * np.ones(15)].astype(int)
    return X, kind


def labelled_two_kinds() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training rows (seed 0) with six of kind A labelled and none of kind B, and new rows (seed 1):
    ``X, kind, known, X_new, kind_new``."""
    X, kind = two_kinds(0)
    X_new, kind_new = two_kinds(1)
    known = np.zeros(len(X), dtype=int)
    known[np.flatnonzero(kind == 1)[:6]] = 1
    return X, kind, known, X_new, kind_new
