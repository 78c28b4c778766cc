"""Keep a detector right over time: drift tests, streaming with adaptation, and a meta-learned initialization.

Examples
--------
>>> import numpy as np
>>> from metaad.adapt import drift_test
>>> rng = np.random.RandomState(0)
>>> drift_test(rng.normal(size=(200, 2)), rng.normal(1.0, 1.0, size=(200, 2)), random_state=0).drift
True
"""

from metaad.adapt.drift import DriftResult, drift_test, score_kl
from metaad.adapt.stream import POLICIES, StreamDetector, WindowReport

__all__ = ["DriftResult", "POLICIES", "StreamDetector", "WindowReport", "drift_test", "score_kl"]
