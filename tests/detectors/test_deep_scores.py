"""The deep detectors score with the functions of metaad.scores: a detector's score is that function of its
network's outputs, so a change to either shows here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import metaad
from metaad.scores import center_distance, critic_score, gaussian_kl_to_standard, reconstruction_error

X = np.random.RandomState(0).normal(size=(120, 4))


def _fit(name: str, **params):
    return metaad.make_detector(name, n_epochs=2, random_state=0, **params).fit(X)


def _scaled(det) -> torch.Tensor:
    return torch.from_numpy(det._scale(X[:20].astype(np.float32)))


@pytest.mark.parametrize("name", ["autoencoder", "vae", "wgan", "deep_svdd"])
def test_score_is_the_scores_function_of_the_network(name: str) -> None:
    extra = {"encoder_epochs": 1} if name == "wgan" else ({"pretrain_epochs": 1} if name == "deep_svdd" else {})
    det = _fit(name, **extra)
    net, Xs = det.network_, _scaled(det)
    with torch.no_grad():
        if name == "autoencoder":
            expected = reconstruction_error(Xs, net(Xs), reduction="mean")
        elif name == "vae":
            mu, logvar = net.encode(Xs)
            expected = (reconstruction_error(Xs, net.decode(mu)) + det.beta * gaussian_kl_to_standard(mu, logvar)) / 4
        elif name == "wgan":
            G_E = net(Xs)
            expected = reconstruction_error(Xs, G_E, reduction="mean") + det.kappa * reconstruction_error(
                net.critic.features(Xs), net.critic.features(G_E), reduction="mean")
            np.testing.assert_allclose(det.critic_scores(X[:20]), critic_score(net.critic, Xs).numpy(), rtol=1e-6)
        else:
            expected = center_distance(net.encoder(Xs), net.center)
    np.testing.assert_allclose(det.decision_function(X[:20]), expected.double().numpy(), rtol=1e-6, atol=1e-9)
