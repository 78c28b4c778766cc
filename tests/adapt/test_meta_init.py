"""The meta-initialization: the one-class (OC-MAML) and Reptile updates against references computed by hand,
meta-training helps few-shot one-class adaptation, safe saving."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import metaad
from metaad.adapt.meta_init import MetaInitialization, ReptileInitialization, one_class_meta_loss, reptile_step, segment_tasks
from metaad.exceptions import DataError, ModelFileError, NotFittedError, ParameterError


def _adam_first_step(theta: torch.Tensor, grad: torch.Tensor, lr: float) -> torch.Tensor:
    return theta - lr * grad / (grad.abs() + 1e-8)  # Adam's first step: m_hat = g, v_hat = g**2


def test_one_class_iteration_matches_a_hand_computed_first_order_update() -> None:
    """Two tasks whose rows are all equal (a and b), one task per iteration, a one-step inner fine-tune: the
    adapted weights are phi = Adam's first step on the reconstruction of a, and the initialization moves by the
    outer Adam's first step along the gradient *at phi* of softplus(log err_phi(a) - log err_phi(b)), the
    soft-AUROC of a's normal query rows against b's rows (the negatives)."""
    a, b = torch.tensor([1.0, -0.5, 0.2]), torch.tensor([-0.3, 0.8, 1.1])
    tasks = [a.repeat(20, 1), b.repeat(20, 1)]
    inner_lr, outer_lr = 0.01, 0.003
    init = ReptileInitialization(hidden_sizes=(4,), latent_size=2, objective="one-class", inner_steps=1, tasks_per_iteration=1, support_sizes=(5,),
                                 n_query=6, adapt_learning_rate=inner_lr, trim_fraction=0.0)
    torch.manual_seed(0)
    network = init._network(3)
    theta = [p.detach().clone() for p in network.parameters()]
    outer = torch.optim.Adam(network.parameters(), lr=outer_lr)
    rng = np.random.RandomState(3)
    task = int(np.random.RandomState(3).randint(2))  # the task the iteration draws first
    normal, negative = (a, b) if task == 0 else (b, a)
    loss = init._one_class_iteration(network, outer, tasks, rng, torch.Generator().manual_seed(0))

    reference = init._network(3)
    reference.load_state_dict(dict(zip(dict(reference.named_parameters()), theta)))
    inner = torch.autograd.grad(((reference(normal[None]) - normal) ** 2).mean(), list(reference.parameters()))
    phi = [_adam_first_step(t, g, inner_lr) for t, g in zip(theta, inner)]
    reference.load_state_dict(dict(zip(dict(reference.named_parameters()), phi)))
    params = list(reference.parameters())
    err = [((reference(x[None]) - x) ** 2).mean() for x in (normal, negative)]
    expected_loss = torch.nn.functional.softplus(torch.log(err[0]) - torch.log(err[1]))
    outer_grad = torch.autograd.grad(expected_loss, params)
    assert loss == pytest.approx(float(expected_loss.detach()), rel=1e-5)
    for after, before, g in zip(network.parameters(), theta, outer_grad):
        torch.testing.assert_close(after.detach(), _adam_first_step(before, g, outer_lr), rtol=1e-4, atol=1e-6)


def test_one_class_meta_loss_is_a_soft_auroc() -> None:
    """It falls as the normal scores drop below the negatives', does not depend on the scores' scale, and each
    pair counts: a perfect ranking has a lower loss than a ranking with one pair swapped."""
    normal, negative = torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0.5, 0.6, 0.25])
    loss = one_class_meta_loss(normal, negative)
    assert float(one_class_meta_loss(10 * normal, 10 * negative)) == pytest.approx(float(loss))
    assert float(one_class_meta_loss(normal, torch.tensor([0.5, 0.6, 0.35]))) < float(loss)
    assert float(one_class_meta_loss(normal, normal)) == pytest.approx(np.mean(
        [np.log1p(x / y) for x in (0.1, 0.2, 0.3) for y in (0.1, 0.2, 0.3)]), rel=1e-5)


def _digit_tasks():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return [X[y == d] / 16.0 for d in range(10)]


def test_one_class_meta_init_separates_a_new_digit_in_few_steps() -> None:
    """Leave one 8x8 digit out: 20 steps on 10 images of it from the one-class meta-init separate its other
    images from the nine meta-training digits' held-back images far better than 20 steps from scratch."""
    from sklearn.metrics import roc_auc_score

    digits = _digit_tasks()
    new = digits[8][np.random.RandomState(0).permutation(len(digits[8]))]
    train = [d[:-30] for i, d in enumerate(digits) if i != 8]
    negatives = np.vstack([d[-30:] for i, d in enumerate(digits) if i != 8])
    labels = np.r_[np.zeros(len(new) - 10), np.ones(len(negatives))]
    kwargs = dict(hidden_sizes=(32,), latent_size=8, standardize=False, objective="one-class", inner_steps=20, support_sizes=(10,), n_query=32,
                  tasks_per_iteration=2, random_state=0)
    auroc = {}
    for name, init in (("meta", MetaInitialization(n_iterations=60, **kwargs)),
                       ("scratch", MetaInitialization(n_iterations=1, meta_learning_rate=1e-9, **kwargs))):
        det = init.fit(train).adapt(new[:10], random_state=0)
        auroc[name] = roc_auc_score(labels, det.decision_function(np.vstack([new[10:], negatives])))
    assert auroc["meta"] > 0.85 and auroc["meta"] > auroc["scratch"] + 0.15, auroc


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
    kwargs = dict(hidden_sizes=(16,), latent_size=2, objective="reptile", n_iterations=150, inner_steps=5, random_state=0)
    meta = ReptileInitialization(**kwargs).fit(tasks)
    scratch = ReptileInitialization(**{**kwargs, "n_iterations": 1, "meta_learning_rate": 1e-6}).fit(tasks)
    errors = {name: init.adapt(new[:30], n_steps=20, random_state=0).decision_function(new[30:]).mean()
              for name, init in (("meta", meta), ("scratch", scratch))}
    assert errors["meta"] < 0.7 * errors["scratch"]


def test_save_load_round_trip_and_damaged_files(tmp_path) -> None:
    init = ReptileInitialization(hidden_sizes=(8,), latent_size=2, objective="one-class", n_iterations=5, random_state=0).fit(
        _tasks(1, [0.0, 1.0]))
    folder = init.save(tmp_path / "init")
    assert ReptileInitialization.load(folder).get_params() == init.get_params()
    assert ReptileInitialization.load(folder).objective_ == "one-class"
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
    # a folder written before the one-class objective existed is a Reptile initialization
    old_params = {k: v for k, v in document["params"].items()
                  if k not in ("objective", "tasks_per_iteration", "support_sizes", "n_query", "trim_fraction")}
    old = {k: v for k, v in document.items() if k != "objective_"}
    (folder / "init.json").write_text(json.dumps({**old, "params": old_params}))
    assert ReptileInitialization.load(folder).objective_ == "reptile"
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
    with pytest.raises(ParameterError, match="objective must be"):
        ReptileInitialization(objective="maml").fit([np.zeros((5, 2)), np.ones((5, 2))])
    with pytest.raises(ParameterError, match="support_sizes"):
        ReptileInitialization(support_sizes=(0,)).fit([np.zeros((5, 2)), np.ones((5, 2))])
    with pytest.warns(UserWarning, match="at least two tasks"):
        single = ReptileInitialization(hidden_sizes=(4,), latent_size=2, objective="one-class", n_iterations=2,
                                       random_state=0).fit([np.zeros((5, 2))])
    assert single.objective_ == "reptile"
    tasks = segment_tasks(np.random.RandomState(0).normal(size=(200, 3)), n_tasks=3, random_state=0)
    assert len(tasks) == 3 and all(len(t) >= 16 for t in tasks)
