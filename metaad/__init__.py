"""metaad: anomaly detection that learns how to detect.

Examples
--------
>>> import numpy as np, metaad
>>> X = np.random.RandomState(0).normal(size=(200, 5))
>>> det = metaad.make_detector("iforest", random_state=0).fit(X)
>>> det.predict(X).shape
(200,)

In a notebook, one call fits and scores a (mixed-type) table: ``found = metaad.detect(df)``, then
``found.top(10)``, ``found.scores``, ``found.pipeline`` (see :func:`metaad.detect`).
"""

from metaad._version import __version__
from metaad.detectors import BaseDetector, list_detectors, make_detector
from metaad.exceptions import DataError, MetaADError, ModelFileError, NotFittedError, ParameterError, SchemaError
from metaad.persistence import load, save
from metaad.pipeline import AnomalyPipeline, Detection, detect
from metaad.meta import auto as _auto  # noqa: F401,E402  (registers "auto")
from metaad.meta.recommend import select
from metaad.search import tune

__all__ = [
    "AnomalyPipeline",
    "Detection",
    "detect",
    "load",
    "save",
    "select",
    "tune",
    "BaseDetector",
    "DataError",
    "MetaADError",
    "ModelFileError",
    "NotFittedError",
    "ParameterError",
    "SchemaError",
    "__version__",
    "list_detectors",
    "make_detector",
]
