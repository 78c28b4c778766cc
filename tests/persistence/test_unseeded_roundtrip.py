"""A randomized detector fitted with ``random_state=None`` saves and loads to the same scores."""

from __future__ import annotations

import numpy as np
import pytest

import metaad
from metaad.detectors import make_detector


@pytest.mark.parametrize("name", ["iforest", "loda"])
def test_an_unseeded_randomized_detector_loads_with_its_scores(tmp_path, name):
    X = np.random.RandomState(0).normal(size=(200, 4))
    X[:5] += 6
    detector = make_detector(name).fit(X)  # random_state=None: a fresh seed is drawn at fit
    assert isinstance(detector.seed_, int)
    metaad.save(detector, tmp_path / "model")
    loaded = metaad.load(tmp_path / "model")
    assert loaded.seed_ == detector.seed_
    np.testing.assert_allclose(loaded.decision_function(X), detector.decision_function(X), rtol=1e-9)


def test_two_unseeded_fits_draw_different_seeds():
    X = np.random.RandomState(1).normal(size=(100, 3))
    seeds = {make_detector("iforest").fit(X).seed_ for _ in range(3)}
    assert len(seeds) > 1
