"""Deep SVDD: bias-free, fixed centre away from zero, scores that do not collapse, and it detects."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import metaad
from metaad.detectors.deep_svdd import fix_center



@pytest.fixture(scope="module")
def cardio(cardio_split):
    return cardio_split


@pytest.fixture(scope="module")
def fitted(cardio):
    return metaad.make_detector("deep_svdd", random_state=0).fit(cardio[0])


def test_no_bias_anywhere(fitted):
    names = [name for name, _ in fitted.network_.named_parameters()]
    assert names and not any("bias" in name for name in names)


def test_scores_not_collapsed_and_detect(fitted, cardio):
    _, X_test, _, y_test = cardio
    scores = fitted.decision_function(X_test)
    assert scores.std() > 1e-3 * max(abs(scores.mean()), 1e-12)
    assert len(np.unique(np.round(scores, 6))) > len(scores) // 2
    assert roc_auc_score(y_test, scores) > 0.6


def test_centre_fixed_and_away_from_zero(fitted, cardio):
    centre = fitted.center_
    assert np.all(np.abs(centre) >= 0.1 - 1e-7)
    # the centre did not move during training (it is a buffer, not a parameter)
    assert "center" not in dict(fitted.network_.named_parameters())
    # and the one-class loss fell
    assert fitted.history_.train_loss[-1] < fitted.history_.train_loss[0]


def test_fix_center_pushes_small_coordinates():
    centre = fix_center(torch.tensor([[0.0, -0.02, 3.0], [0.0, 0.0, 1.0]]), 0.1)
    assert centre.tolist() == pytest.approx([0.1, -0.1, 2.0])


def test_images_28x28():
    X = np.random.RandomState(0).rand(40, 28, 28).astype(np.float32)
    det = metaad.make_detector("deep_svdd", n_epochs=1, pretrain_epochs=1, batch_size=16, random_state=0).fit(X)
    assert det.decision_function(X[:5]).shape == (5,)
    assert det.decision_scores_.std() > 0
    assert det.architecture_["latent_size"] == 32 and det.center_.shape == (32,)  # Ruff et al.'s width for images
    tabular = metaad.make_detector("deep_svdd", n_epochs=1, pretrain_epochs=1, random_state=0).fit(X.reshape(40, -1)[:, :20])
    assert tabular.architecture_["latent_size"] != 32  # tables keep the autoencoder's width rule
