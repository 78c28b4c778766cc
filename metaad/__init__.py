"""metaad: anomaly detection that learns how to detect.

Examples
--------
>>> import numpy as np, metaad
>>> X = np.random.RandomState(0).normal(size=(200, 5))
>>> det = metaad.make_detector("iforest", random_state=0).fit(X)
>>> det.predict(X).shape
(200,)
"""

from metaad._version import __version__
from metaad.detectors import BaseDetector, list_detectors, make_detector
from metaad.exceptions import DataError, MetaADError, ModelFileError, NotFittedError, ParameterError, SchemaError
from metaad.persistence import load, save
from metaad.pipeline import AnomalyPipeline
from metaad.meta import auto as _auto  # noqa: F401,E402  (registers "auto")
from metaad.meta.recommend import select

__all__ = [
    "AnomalyPipeline",
    "load",
    "save",
    "select",
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
