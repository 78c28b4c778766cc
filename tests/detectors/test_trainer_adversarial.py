"""PGD adversarial training through the one trainer, and the early_stopping switch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import metaad
from metaad.detectors.trainer import Trainer


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).normal(size=(256, 6))


@pytest.mark.parametrize("name", ["autoencoder", "vae", "deep_svdd"])
def test_pgd_training_runs_and_changes_weights(name, X):
    params = dict(n_epochs=3, random_state=0, epsilon=0.3, adversarial_steps=2)
    if name == "deep_svdd":
        params["pretrain_epochs"] = 1
    clean = metaad.make_detector(name, **params).fit(X)
    robust = metaad.make_detector(name, adversarial="pgd", **params).fit(X)
    assert np.isfinite(robust.decision_scores_).all()
    diffs = [
        float((a - b).abs().max())
        for a, b in zip(clean.network_.state_dict().values(), robust.network_.state_dict().values())
        if a.dtype.is_floating_point
    ]
    assert max(diffs) > 1e-4
    again = metaad.make_detector(name, adversarial="pgd", **params).fit(X)
    np.testing.assert_array_equal(again.decision_scores_, robust.decision_scores_)


def test_early_stopping_off_keeps_last_weights():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(64, 3, generator=gen)
    net = torch.nn.Linear(3, 3)
    # a constant monitored loss: with early stopping the first epoch's weights would come back
    trainer = Trainer(n_epochs=4, batch_size=16, validation_fraction=0.0, patience=1, early_stopping=False, generator=gen)
    history = trainer.fit(net, lambda m, xb, yb: torch.zeros(xb.shape[0]) + 0 * m(xb).sum(), X, step_fn=lambda xb, yb: 1.0)
    assert len(history.train_loss) == 4 and not history.stopped_early
    assert history.best_epoch == 3
