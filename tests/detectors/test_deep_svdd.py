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
    with torch.no_grad():
        embeddings = fitted.network_.encoder(fitted._to_tensor(cardio[0])).numpy()
    assert np.all(np.abs(centre) > 0)
    # inside the cloud of training embeddings: no coordinate further than 3 spreads from their mean
    assert np.all(np.abs(centre - embeddings.mean(axis=0)) < 3 * embeddings.std(axis=0))
    # the centre did not move during training (it is a buffer, not a parameter)
    assert "center" not in dict(fitted.network_.named_parameters())
    # and the one-class loss fell
    assert fitted.history_.train_loss[-1] < fitted.history_.train_loss[0]


def test_fix_center_pushes_small_coordinates():
    centre = fix_center(torch.tensor([[0.0, -0.02, 3.0], [0.0, 0.0, 1.0]]), 0.1)
    assert centre.tolist() == pytest.approx([0.1, -0.1, 2.0])
    # relative: the bound is eps times each coordinate's spread
    emb = torch.tensor([[1.0, -0.2, 3.0], [-1.0, 0.19, 1.0]])
    spread = emb.std(dim=0)
    centre = fix_center(emb, 0.1, relative=True)
    assert centre.tolist() == pytest.approx([0.1 * float(spread[0]), -0.1 * float(spread[1]), 2.0])


@pytest.mark.parametrize("n_features", [3, 5, 10])
def test_planted_outliers_score_higher_for_every_seed(n_features):
    """400 Gaussian rows and 8 rows shifted by +6 in every column: the 8 must score highest, whatever the seed.

    With an absolute centre push and a 2-wide embedding, seeds 2 and 4 ranked them *below* the normal rows
    (AUROC 0.0 and 0.4 with 5 columns)."""
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(400, n_features)), rng.normal(size=(8, n_features)) + 6])
    y = np.r_[np.zeros(400), np.ones(8)]
    for seed in range(5):
        scores = metaad.make_detector("deep_svdd", random_state=seed).fit(X).decision_scores_
        assert roc_auc_score(y, scores) >= 0.95, f"seed {seed}: AUROC {roc_auc_score(y, scores):.3f}"
        assert scores[400:].mean() > scores[:400].mean()


def test_images_28x28():
    X = np.random.RandomState(0).rand(40, 28, 28).astype(np.float32)
    det = metaad.make_detector("deep_svdd", n_epochs=1, pretrain_epochs=1, batch_size=16, random_state=0).fit(X)
    assert det.decision_function(X[:5]).shape == (5,)
    assert det.decision_scores_.std() > 0
    assert det.architecture_["latent_size"] == 32 and det.center_.shape == (32,)  # Ruff et al.'s width for images
    tabular = metaad.make_detector("deep_svdd", n_epochs=1, pretrain_epochs=1, random_state=0).fit(X.reshape(40, -1)[:, :20])
    assert tabular.architecture_["latent_size"] != 32  # tables keep the autoencoder's width rule
