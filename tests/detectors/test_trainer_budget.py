"""Every deep detector hands its step budget (``max_steps``) and loss trimming (``trim_fraction``) to the trainer,
and warns when the budget cuts an explicit ``n_epochs`` short."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import metaad
from metaad.detectors.trainer import Trainer

UNSUPERVISED = ["autoencoder", "vae", "deep_svdd", "wgan"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 5))
    y = np.zeros(600, dtype=int)
    y[:10] = 1
    return X, y


def fit(name, X, y, **params):
    det = metaad.make_detector(name, random_state=0, **params)
    return det.fit(X, y) if name == "devnet" else det.fit(X)


@pytest.fixture
def trainers(monkeypatch):
    """Records every Trainer.fit call's budget and trim fraction (the trainer itself still runs)."""
    calls = []
    original = Trainer.fit

    def spy(self, *args, **kwargs):
        history = original(self, *args, **kwargs)
        calls.append({"trim_fraction": self.trim_fraction, "max_steps": self.max_steps, "n_steps": history.n_steps,
                      "description": self.description})
        return history

    monkeypatch.setattr(Trainer, "fit", spy)
    return calls


@pytest.mark.parametrize("name", [*UNSUPERVISED, "devnet"])
def test_max_steps_bounds_every_phase(name, data, trainers):
    X, y = data
    det = fit(name, X, y, n_epochs=5, max_steps=3, batch_size=32)
    assert det.history_.n_steps == 3  # 5 epochs of 17 batches would be 85 steps
    assert trainers and all(call["max_steps"] == 3 and call["n_steps"] <= 3 for call in trainers)


@pytest.mark.parametrize("name", UNSUPERVISED)
def test_trim_fraction_reaches_the_trainer(name, data, trainers):
    X, y = data
    fit(name, X, y, n_epochs=1, max_steps=2, trim_fraction=0.25)
    final = trainers[-1]  # the phase whose loss is the score (wgan: the encoder; its GAN game is never trimmed)
    assert final["trim_fraction"] == 0.25
    trainers.clear()
    fit(name, X, y, n_epochs=1, max_steps=2, contamination=0.15)
    assert trainers[-1]["trim_fraction"] == 0.15  # "auto" trims the contamination share


def test_devnet_is_not_trimmed_by_default(data, trainers):
    X, y = data
    fit("devnet", X, y, n_epochs=1, max_steps=2)
    assert trainers[-1]["trim_fraction"] == 0.0  # labelled anomalies must keep their gradient


def test_trimming_changes_what_is_learned(data):
    X, _ = data
    X = np.vstack([X, np.random.RandomState(1).normal(6, 1, size=(30, 5))])
    plain = fit("autoencoder", X, None, n_epochs=3, trim_fraction=0.0).decision_scores_
    trimmed = fit("autoencoder", X, None, n_epochs=3, trim_fraction=0.1).decision_scores_
    # trimmed training ignores the 30 far rows, so they stand out more against the rest
    assert trimmed[600:].mean() / trimmed[:600].mean() > plain[600:].mean() / plain[:600].mean()


def test_an_explicit_n_epochs_cut_short_warns(data):
    X, _ = data
    with pytest.warns(UserWarning, match=r"n_epochs=50 was asked for, but max_steps=20 ended training after 2 epoch"):
        det = fit("autoencoder", X, None, n_epochs=50, max_steps=20, batch_size=32)
    assert det.history_.stopped_by_max_steps
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit("autoencoder", X, None, n_epochs=50, max_steps=None, batch_size=256)  # no budget: every epoch runs
        fit("autoencoder", X, None, max_steps=20, batch_size=32)  # the default n_epochs: the budget is expected
