"""The WGAN-GP + izif encoder detector."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import metaad
from metaad.scores import critic_score



@pytest.fixture(scope="module")
def cardio(cardio_split):
    return cardio_split


@pytest.fixture(scope="module")
def fitted(cardio):
    return metaad.make_detector("wgan", n_epochs=10, encoder_epochs=10, random_state=0).fit(cardio[0])


def test_both_phases_run_and_encoder_learns(fitted):
    assert len(fitted.gan_history_.train_loss) == 10  # no early stopping in the GAN game
    assert fitted.history_.train_loss[-1] < fitted.history_.train_loss[0]


def test_detects_on_cardio(fitted, cardio):
    _, X_test, _, y_test = cardio
    assert roc_auc_score(y_test, fitted.decision_function(X_test)) > 0.6


def test_critic_score_option_matches_scores_function(fitted, cardio):
    _, X_test, _, _ = cardio
    critic = copy.deepcopy(fitted).set_params(score_type="critic")  # same weights, the critic's score
    expected = critic_score(fitted.network_.critic, fitted._to_tensor(X_test).numpy())
    np.testing.assert_allclose(critic.decision_function(X_test), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fitted.critic_scores(X_test), expected, rtol=1e-5, atol=1e-6)


def test_images_rank_the_odd_images_first():
    from tests.detectors.test_image_networks import odd_blob_images

    X, y = odd_blob_images()
    det = metaad.make_detector("wgan", n_epochs=3, encoder_epochs=5, pretrain_epochs=5, batch_size=32, random_state=0).fit(X)
    assert type(det.network_.generator).__name__ == "ConvDecoder" and len(det.gan_history_.train_loss) == 3
    assert roc_auc_score(y, det.decision_function(X)) >= 0.95


def test_colour_images_3x32x32():
    X = np.random.RandomState(0).rand(32, 3, 32, 32).astype(np.float32)
    det = metaad.make_detector("wgan", n_epochs=1, encoder_epochs=1, batch_size=16, random_state=0).fit(X)
    assert det.decision_function(X[:4]).shape == (4,)
    assert det.decision_function(X[:4]).tolist() == pytest.approx(det.decision_scores_[:4].tolist(), rel=1e-5)


def test_images_get_an_autoencoder_warm_start_by_default():
    X = np.random.RandomState(0).rand(48, 28, 28).astype(np.float32)
    params = {"n_epochs": 1, "encoder_epochs": 1, "batch_size": 16, "random_state": 0}

    def scores(**extra):
        return metaad.make_detector("wgan", **params, **extra).fit(X).decision_scores_

    default = scores()
    np.testing.assert_allclose(default, scores(pretrain_epochs=10), rtol=1e-6)  # None means 10 for images
    assert not np.allclose(default, scores(pretrain_epochs=0))
    table = X.reshape(48, -1)[:, :12]
    np.testing.assert_allclose(metaad.make_detector("wgan", **params).fit(table).decision_scores_,
                               metaad.make_detector("wgan", **params, pretrain_epochs=0).fit(table).decision_scores_,
                               rtol=1e-6)  # None means 0 for tables: the knowledge base's results stay valid
    with pytest.raises(metaad.ParameterError, match="pretrain_epochs"):
        metaad.make_detector("wgan", pretrain_epochs=-1).fit(table)
