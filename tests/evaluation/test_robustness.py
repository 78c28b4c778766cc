"""robust_auroc: the attack lowers (never raises) the AUROC, and more epsilon hurts more."""

from __future__ import annotations


import pytest

import metaad
from metaad.evaluation import robust_auroc
from metaad.exceptions import ParameterError



@pytest.fixture(scope="module")
def cardio_fitted(cardio_split):
    X_train, X_test, _, y_test = cardio_split
    return metaad.make_detector("autoencoder", n_epochs=10, random_state=0).fit(X_train), X_test, y_test


def test_attack_lowers_auroc(cardio_fitted):
    det, X_test, y_test = cardio_fitted
    small = robust_auroc(det, X_test, y_test, epsilon=0.05, steps=5)
    large = robust_auroc(det, X_test, y_test, epsilon=0.5, steps=5)
    assert small["auroc_attacked"] <= small["auroc_clean"]
    assert large["auroc_attacked"] < small["auroc_attacked"]
    assert large["mean_score_drop"] > 0
    assert small["auroc_clean"] == pytest.approx(large["auroc_clean"])


def test_rejects_non_deep_detector(cardio_fitted):
    _, X_test, y_test = cardio_fitted
    iforest = metaad.make_detector("iforest", random_state=0).fit(X_test)
    with pytest.raises(ParameterError):
        robust_auroc(iforest, X_test, y_test, epsilon=0.1)
