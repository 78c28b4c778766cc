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
    from tests.detectors.test_trainer import ScriptedValidation, same

    X = torch.randn(200, 3, generator=torch.Generator().manual_seed(0))
    # the validation loss is best at epoch 0 and only worsens: early stopping would bring epoch 0's weights back
    loss = ScriptedValidation([1.0, 2.0, 3.0, 4.0])
    net = torch.nn.Linear(3, 3)
    trainer = Trainer(n_epochs=4, batch_size=64, patience=1, learning_rate=0.05, early_stopping=False,
                      generator=torch.Generator().manual_seed(0))
    history = trainer.fit(net, loss, X)
    assert len(history.train_loss) == 4 and not history.stopped_early and history.best_epoch == 3
    assert not same(loss.snapshots[0], loss.snapshots[-1])
    assert same({k: v.clone() for k, v in net.state_dict().items()}, loss.snapshots[-1])
