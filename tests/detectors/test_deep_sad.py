"""Deep SAD: labels push their kind away, unlabeled anomalies stay anomalous, no labels = Deep SVDD, loss by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import metaad
from metaad.detectors.deep_sad import deep_sad_loss
from metaad.exceptions import ParameterError
from tests.detectors._two_kinds import labelled_two_kinds

FAST = {"n_epochs": 10, "pretrain_epochs": 2, "max_steps": None, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    return labelled_two_kinds()  # six of kind A labelled, none of kind B


def _gap(det, X_new, kind_new) -> float:
    """How far the labelled kind (A) outscores the unlabeled kind (B) on new rows: AUROC of A against B."""
    scores = det.decision_function(X_new)
    anomalies = kind_new > 0
    return roc_auc_score(kind_new[anomalies] == 1, scores[anomalies])


def test_labels_push_their_kind_away(data) -> None:
    """With kind A labelled new A rows outscore new B rows, with kind B labelled the other way: fails if y is ignored."""
    X, kind, known, X_new, kind_new = data
    other = np.zeros_like(known)
    other[np.flatnonzero(kind == 2)[:6]] = 1
    label_a = _gap(metaad.make_detector("deep_sad", **FAST).fit(X, known), X_new, kind_new)
    label_b = _gap(metaad.make_detector("deep_sad", **FAST).fit(X, other), X_new, kind_new)
    assert label_a > 0.8 and label_a > label_b + 0.2, (label_a, label_b)


def test_unlabeled_anomalies_still_score_above_normal_rows(data) -> None:
    X, kind, known, X_new, kind_new = data
    det = metaad.make_detector("deep_sad", **FAST).fit(X, known)
    unlabeled = known == 0
    assert roc_auc_score(kind[unlabeled] > 0, det.decision_scores_[unlabeled]) > 0.8
    normal_or_b = kind_new != 1
    assert roc_auc_score(kind_new[normal_or_b] == 2, det.decision_function(X_new)[normal_or_b]) > 0.8


def test_without_labels_it_is_deep_svdd(data) -> None:
    """No labelled anomaly: exactly one-class Deep SVDD with the same settings (the paper's special case)."""
    X, _, _, X_new, _ = data
    sad = metaad.make_detector("deep_sad", **FAST).fit(X)
    svdd = metaad.make_detector("deep_svdd", **FAST, trim_fraction=0.0).fit(X)  # a label user trims nothing
    np.testing.assert_allclose(sad.decision_function(X_new), svdd.decision_function(X_new), rtol=1e-5, atol=1e-7)


def test_loss_by_hand() -> None:
    distances = torch.tensor([4.0, 0.5, 2.0])
    losses = deep_sad_loss(distances, torch.tensor([0.0, 1.0, 1.0]), eta=3.0)
    assert losses.tolist() == pytest.approx([4.0, 3.0 / (0.5 + 1e-6), 3.0 / (2.0 + 1e-6)])


@pytest.mark.parametrize(("param", "value"), [("eta", 0.0), ("eta", True), ("labelled_per_batch", 0)])
def test_bad_parameters_are_named(param, value) -> None:
    with pytest.raises(ParameterError, match=f"deep_sad: {param}"):
        metaad.make_detector("deep_sad", **{param: value}).fit(np.random.RandomState(0).normal(size=(50, 3)))
