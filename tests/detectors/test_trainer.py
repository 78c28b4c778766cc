"""The one trainer: early stopping restores the best weights, trimming ignores the worst rows, PGD stays in bounds."""

from __future__ import annotations

import torch

from metaad.detectors.trainer import Trainer, pgd_perturbation


def reconstruction(module, xb, yb):
    return ((module(xb) - xb) ** 2).mean(dim=1)


def test_early_stopping_and_split_are_seeded() -> None:
    X = torch.randn(400, 4, generator=torch.Generator().manual_seed(0))
    histories = []
    for _ in range(2):
        torch.manual_seed(0)
        net = torch.nn.Linear(4, 4)
        trainer = Trainer(n_epochs=200, batch_size=32, patience=3, learning_rate=0.05, generator=torch.Generator().manual_seed(1))
        histories.append(trainer.fit(net, reconstruction, X))
    assert histories[0].train_loss == histories[1].train_loss
    assert histories[0].stopped_early and len(histories[0].train_loss) < 200
    assert len(histories[0].val_loss) == len(histories[0].train_loss)
    assert histories[0].best_epoch == min(range(len(histories[0].val_loss)), key=histories[0].val_loss.__getitem__)


def test_trimmed_mean_drops_the_worst_rows() -> None:
    trainer = Trainer(trim_fraction=0.25)
    losses = torch.tensor([1.0, 2.0, 3.0, 100.0])
    assert float(trainer.trimmed_mean(losses)) == 2.0
    assert float(Trainer().trimmed_mean(losses)) == 26.5


def test_pgd_perturbation_is_bounded_and_increases_loss() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 3))
    X = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    delta = pgd_perturbation(net, reconstruction, X, None, epsilon=0.2, steps=5, generator=torch.Generator().manual_seed(0))
    assert float(delta.abs().max()) <= 0.2 + 1e-6
    with torch.no_grad():
        assert reconstruction(net, X + delta, None).mean() > reconstruction(net, X, None).mean()


def test_max_steps_stops_within_an_epoch() -> None:
    X = torch.randn(1000, 4, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 4)
    trainer = Trainer(n_epochs=50, batch_size=100, max_steps=13, generator=torch.Generator().manual_seed(1))
    history = trainer.fit(net, reconstruction, X)
    assert history.n_steps == 13
    assert len(history.train_loss) == 2  # 9 steps in the first epoch (900 training rows), 4 in the second
