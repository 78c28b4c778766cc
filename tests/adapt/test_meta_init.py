"""Reptile: its update against a reference computed by hand, meta-training helps few-shot adaptation, safe saving."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import metaad
from metaad.adapt.meta_init import ReptileInitialization, reptile_step, segment_tasks
from metaad.exceptions import DataError, ModelFileError, NotFittedError


def test_reptile_step_matches_a_hand_computed_update() -> None:
    """One inner Adam step on the whole batch moves each weight by -lr * g / (|g| + eps) (Adam's first step),
    so Reptile's update is theta - epsilon * lr * g / (|g| + eps), with g the gradient computed here by hand."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 3))
    rows = torch.randn(16, 3, generator=torch.Generator().manual_seed(1))
    theta = [p.detach().clone() for p in net.parameters()]
    loss = ((net(rows) - rows) ** 2).mean(dim=1).mean()
    grads = torch.autograd.grad(loss, list(net.parameters()))
    lr, epsilon = 0.01, 0.3
    reptile_step(net, rows, epsilon=epsilon, steps=1, batch_size=16, learning_rate=lr, generator=torch.Generator().manual_seed(0))
    for before, after, g in zip(theta, net.parameters(), grads):
        expected = before - epsilon * lr * g / (g.abs() + 1e-8)
        torch.testing.assert_close(after.detach(), expected, rtol=1e-4, atol=1e-6)


def _tasks(seed: int, centres: list[float], n: int = 120) -> list[np.ndarray]:
    rng = np.random.RandomState(seed)
    basis = rng.normal(size=(2, 6))
    return [rng.normal(size=(n, 2)) @ basis + c for c in centres]


def test_meta_init_adapts_better_than_an_untrained_network_in_few_steps() -> None:
    """On tasks sharing a low-dimensional structure, 20 steps from the meta-init reconstruct a new task's
    rows better than 20 steps from a random network."""
    tasks = _tasks(0, [-1.0, 0.0, 1.0, 2.0])
    new = _tasks(0, [0.5], n=200)[0]
    kwargs = dict(hidden_sizes=(16,), latent_size=2, n_iterations=150, inner_steps=5, random_state=0)
    meta = ReptileInitialization(**kwargs).fit(tasks)
    scratch = ReptileInitialization(**{**kwargs, "n_iterations": 1, "meta_learning_rate": 1e-6}).fit(tasks)
    errors = {name: init.adapt(new[:30], n_steps=20, random_state=0).decision_function(new[30:]).mean()
              for name, init in (("meta", meta), ("scratch", scratch))}
    assert errors["meta"] < 0.7 * errors["scratch"]


def test_save_load_round_trip_and_damaged_files(tmp_path) -> None:
    init = ReptileInitialization(hidden_sizes=(8,), latent_size=2, n_iterations=5, random_state=0).fit(_tasks(1, [0.0, 1.0]))
    folder = init.save(tmp_path / "init")
    assert sorted(p.name for p in folder.iterdir()) == ["init.json", "init.safetensors"]
    loaded = ReptileInitialization.load(folder)
    X = _tasks(2, [0.5])[0]
    a = init.adapt(X, n_steps=5, random_state=0)
    b = loaded.adapt(X, n_steps=5, random_state=0)
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), rtol=1e-6)
    # the adapted detector is an ordinary model: it saves and loads with metaad.save
    again = metaad.load(metaad.save(a, tmp_path / "model"))
    np.testing.assert_allclose(again.decision_function(X), a.decision_function(X), rtol=1e-6)
    document = json.loads((folder / "init.json").read_text())
    (folder / "init.json").write_text(json.dumps({**document, "format_version": 99}))
    with pytest.raises(ModelFileError, match="not a metaad-meta-init file"):
        ReptileInitialization.load(folder)
    (folder / "init.json").write_text(json.dumps({**document, "n_features": 7}))
    with pytest.raises(ModelFileError, match="cannot be restored"):
        ReptileInitialization.load(folder)


def test_errors_are_named() -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        ReptileInitialization().adapt(np.zeros((5, 2)))
    with pytest.raises(DataError, match="same number of columns"):
        ReptileInitialization().fit([np.zeros((5, 2)), np.zeros((5, 3))])
    tasks = segment_tasks(np.random.RandomState(0).normal(size=(200, 3)), n_tasks=3, random_state=0)
    assert len(tasks) == 3 and all(len(t) >= 16 for t in tasks)
