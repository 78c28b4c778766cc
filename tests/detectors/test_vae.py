"""The VAE detector: contract, learning on cardio, both scores, images."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import metaad
from metaad.exceptions import ParameterError



@pytest.fixture(scope="module")
def cardio(cardio_split):
    return cardio_split


def test_learns_on_cardio(cardio):
    X_train, X_test, _, y_test = cardio
    det = metaad.make_detector("vae", n_epochs=10, random_state=0).fit(X_train)
    assert det.history_.train_loss[-1] < det.history_.train_loss[0]
    assert roc_auc_score(y_test, det.decision_function(X_test)) > 0.6


def test_reconstruction_score_differs_from_elbo(cardio):
    X_train, X_test, _, y_test = cardio
    elbo = metaad.make_detector("vae", n_epochs=3, random_state=0).fit(X_train)
    rec = metaad.make_detector("vae", n_epochs=3, random_state=0, score_type="reconstruction").fit(X_train)
    s_elbo, s_rec = elbo.decision_function(X_test), rec.decision_function(X_test)
    assert np.all(s_elbo > s_rec)  # same weights, the KL term is positive
    assert roc_auc_score(y_test, s_rec) > 0.6


def test_images_round_trip(tmp_path):
    """Images (N x C x H x W) get a convolutional VAE that saves and loads (the shared contract uses tables)."""
    X = np.random.RandomState(0).rand(40, 3, 32, 32).astype(np.float32)
    det = metaad.make_detector("vae", n_epochs=1, batch_size=16, random_state=0).fit(X)
    loaded = metaad.load(metaad.save(det, tmp_path / "vae"))
    np.testing.assert_allclose(loaded.decision_function(X), det.decision_function(X), rtol=1e-6, atol=1e-7)


def test_bad_score():
    with pytest.raises(ParameterError, match="^vae: score_type must be one of 'elbo', 'reconstruction', got 'kl'$"):
        metaad.make_detector("vae", score_type="kl")
    with pytest.raises(ParameterError, match="^detector 'vae': the parameter 'score' was renamed 'score_type'$"):
        metaad.make_detector("vae", score="elbo")
