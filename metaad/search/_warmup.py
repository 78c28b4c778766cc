"""Imported by the local engine's forkserver during a search (see ``metaad.search.loop._PRELOAD``): fit the
detectors whose first fit in a process compiles or initializes something, once, so that every worker forked from
that server starts warm. Measured on a 300 x 5 table in a fresh process: HBOS's first fit took 14.3 s (Numba
compiling), ECOD's 2.8 s, an autoencoder's 4.6 s (PyTorch); the second fits 0.00, 0.01 and 0.03 s. The engine starts
new workers for every batch, so without this each batch paid those seconds again.
"""

from __future__ import annotations

import warnings

import numpy as np


def warm_up() -> None:
    """Fit and score each slow-starting detector once on a tiny table; a failure is ignored (nothing depends on it)."""
    from metaad.detectors.registry import make_detector

    X = np.random.RandomState(0).normal(size=(64, 3))
    for name, params in (("hbos", {}), ("ecod", {}), ("copod", {}), ("autoencoder", {"n_epochs": 1, "verbose": False})):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                make_detector(name, **params).fit(X).decision_function(X)
        except Exception:  # noqa: BLE001  (a warm-up only)
            pass


warm_up()
