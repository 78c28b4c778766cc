"""DevNet: needs labels, learns from five of them, deviation loss by hand."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import metaad
from metaad.detectors.devnet import deviation_loss
from metaad.exceptions import DataError



@pytest.fixture(scope="module")
def cardio(cardio_split):
    X_train, X_test, y_train, y_test = cardio_split
    known = np.zeros_like(y_train)
    known[np.flatnonzero(y_train == 1)[:5]] = 1  # five labelled anomalies, the rest unlabeled
    return X_train, X_test, known, y_test


def test_five_labels_beat_chance(cardio):
    X_train, X_test, known, y_test = cardio
    det = metaad.make_detector("devnet", n_epochs=20, random_state=0).fit(X_train, known)
    assert det.history_.train_loss[-1] < det.history_.train_loss[0]
    assert roc_auc_score(y_test, det.decision_function(X_test)) > 0.6


@pytest.mark.parametrize("y", [None, "zeros"])
def test_needs_labelled_anomalies(y):
    X = np.random.RandomState(0).normal(size=(50, 3))
    with pytest.raises(DataError, match="devnet"):
        metaad.make_detector("devnet").fit(X, None if y is None else np.zeros(50))


def test_deviation_loss_by_hand():
    reference = torch.tensor([1.0, 2.0, 3.0])  # mean 2, std 1
    losses = deviation_loss(torch.tensor([4.0, 4.0, 0.0]), torch.tensor([0.0, 1.0, 1.0]), reference, margin=5.0)
    assert losses.tolist() == pytest.approx([2.0, 3.0, 7.0])


def test_float_and_boolean_labels_that_are_0_or_1_are_accepted():
    X = np.random.RandomState(0).normal(size=(50, 3))
    y = np.zeros(50)
    y[:3] = 1.0
    a = metaad.make_detector("devnet", n_epochs=1, random_state=0).fit(X, y)
    b = metaad.make_detector("devnet", n_epochs=1, random_state=0).fit(X, y.astype(bool))
    np.testing.assert_array_equal(a.decision_scores_, b.decision_scores_)


def test_published_settings_train_every_epoch_on_every_label(cardio):
    """No validation split (the paper has none): every known anomaly is trained on and all epochs run; with the
    old split (0.1) and early stopping, training ended after a few epochs and test AUROC on cardio fell."""
    X_train, X_test, known, y_test = cardio
    det = metaad.make_detector("devnet", n_epochs=30, random_state=0).fit(X_train, known)
    assert len(det.history_.train_loss) == 30 and not det.history_.val_loss
    assert roc_auc_score(y_test, det.decision_function(X_test)) > 0.8
