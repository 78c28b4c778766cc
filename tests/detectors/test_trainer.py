"""The one trainer: early stopping restores the best weights, trimming ignores the worst rows, PGD stays in bounds."""

from __future__ import annotations

import pytest
import torch

from metaad.detectors.trainer import Trainer, pgd_perturbation


def reconstruction(module, xb, yb):
    return ((module(xb) - xb) ** 2).mean(dim=1)


class ScriptedValidation:
    """A loss whose validation value follows a script (one value per epoch) and that snapshots the weights
    each time the trainer evaluates, so a test can tell which epoch's weights came back."""

    def __init__(self, script):
        self.script = list(script)
        self.snapshots = []

    def __call__(self, module, xb, yb):
        if module.training:
            return reconstruction(module, xb, yb)
        epoch = len(self.snapshots)
        self.snapshots.append({k: v.clone() for k, v in module.state_dict().items()})
        return torch.full((xb.shape[0],), float(self.script[epoch])) + 0 * xb.sum(dim=1)


def weights(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_early_stopping_restores_the_best_weights() -> None:
    X = torch.randn(200, 4, generator=torch.Generator().manual_seed(0))
    loss = ScriptedValidation([5.0, 3.0, 1.0, 2.0, 4.0, 6.0, 7.0, 8.0])
    net = torch.nn.Linear(4, 4)
    trainer = Trainer(n_epochs=8, batch_size=256, patience=3, learning_rate=0.05, generator=torch.Generator().manual_seed(1))
    history = trainer.fit(net, loss, X)
    assert history.stopped_early and len(history.train_loss) == 6  # epochs 3, 4 and 5 did not improve on epoch 2
    assert history.best_epoch == 2 and history.val_loss == [5.0, 3.0, 1.0, 2.0, 4.0, 6.0]
    assert not same(loss.snapshots[2], loss.snapshots[-1])  # the weights did move after the best epoch
    assert same(weights(net), loss.snapshots[2])  # ... and the best epoch's came back


def test_split_and_batches_are_seeded() -> None:
    X = torch.randn(400, 4, generator=torch.Generator().manual_seed(0))
    histories, finals = [], []
    for seed in (1, 1, 2):
        torch.manual_seed(0)
        net = torch.nn.Linear(4, 4)
        trainer = Trainer(n_epochs=3, batch_size=32, generator=torch.Generator().manual_seed(seed))
        histories.append(trainer.fit(net, reconstruction, X))
        finals.append(weights(net))
    assert histories[0].train_loss == histories[1].train_loss and same(finals[0], finals[1])
    assert histories[0].train_loss != histories[2].train_loss  # another seed, another split and order
    assert len(histories[0].val_loss) == 3


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


def test_max_steps_marks_a_cut_short_run() -> None:
    X = torch.randn(1000, 4, generator=torch.Generator().manual_seed(0))
    net = torch.nn.Linear(4, 4)
    capped = Trainer(n_epochs=5, batch_size=100, max_steps=13, generator=torch.Generator().manual_seed(1)).fit(net, reconstruction, X)
    assert capped.stopped_by_max_steps and capped.to_dict()["stopped_by_max_steps"] is True
    exact = Trainer(n_epochs=2, batch_size=100, max_steps=18, generator=torch.Generator().manual_seed(1)).fit(net, reconstruction, X)
    assert exact.n_steps == 18 and not exact.stopped_by_max_steps  # the budget ran out with the last epoch


def test_trimmed_loss_is_what_the_optimizer_minimizes() -> None:
    """With trimming, a row whose loss is far above the rest gets no gradient at all."""
    X = torch.zeros(16, 2)
    X[0] = 100.0
    seen = []

    def loss_fn(module, xb, yb):
        out = ((module(xb) - xb) ** 2).mean(dim=1)
        out.register_hook(lambda grad: seen.append((out.detach(), grad.clone())))
        return out

    net = torch.nn.Linear(2, 2, bias=True)
    Trainer(n_epochs=1, batch_size=16, validation_fraction=0.0, trim_fraction=0.1, generator=torch.Generator().manual_seed(0)).fit(
        net, loss_fn, X
    )
    ((losses, grad),) = seen
    assert int((grad == 0).sum()) == 1  # ceil(16 * 0.9) = 15 rows kept
    assert float(grad[losses.argmax()]) == 0.0  # the one left out is the worst-fitted row
    assert torch.allclose(grad[grad != 0], torch.full((15,), 1 / 15))


class LinearLoss(torch.nn.Module):
    """loss(x) = w·x per row: its gradient sign is sign(w) everywhere, so PGD's end point is known exactly."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(torch.as_tensor(w, dtype=torch.float32))

    def forward(self, xb):
        return xb @ self.w


def linear_loss(module, xb, yb):
    if yb is not None:
        assert yb.shape[0] == xb.shape[0]
        return module(xb) * (1 + yb)
    return module(xb)


@pytest.mark.parametrize("epsilon", [0.1, 2.0])
def test_pgd_one_step_reaches_the_corner_of_the_box(epsilon):
    net = LinearLoss([1.0, -2.0, 0.5])
    X = torch.zeros(200, 3)
    up = pgd_perturbation(net, linear_loss, X, None, epsilon=epsilon, steps=1, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(up, torch.tensor([epsilon, -epsilon, epsilon]).expand(200, 3))  # from any random start
    down = pgd_perturbation(net, linear_loss, X, None, epsilon=epsilon, steps=1, generator=torch.Generator().manual_seed(0),
                            maximize=False)
    assert torch.allclose(down, -up)  # an attacker hiding an anomaly moves the other way


def test_pgd_random_start_is_uniform_in_the_box_and_seeded():
    net = LinearLoss([1.0, 1.0])
    X = torch.zeros(2000, 2)
    start = pgd_perturbation(net, linear_loss, X, None, epsilon=0.5, steps=0, generator=torch.Generator().manual_seed(3))
    assert float(start.abs().max()) <= 0.5 and float(start.min()) < -0.45 and float(start.max()) > 0.45
    assert abs(float(start.mean())) < 0.02
    again = pgd_perturbation(net, linear_loss, X, None, epsilon=0.5, steps=0, generator=torch.Generator().manual_seed(3))
    other = pgd_perturbation(net, linear_loss, X, None, epsilon=0.5, steps=0, generator=torch.Generator().manual_seed(4))
    assert torch.equal(start, again) and not torch.equal(start, other)
    state = torch.get_rng_state()
    pgd_perturbation(net, linear_loss, X, None, epsilon=0.5, steps=2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is left alone


def test_pgd_passes_the_labels_and_restores_the_training_mode():
    net = LinearLoss([1.0, 1.0])
    net.train()
    seen = []

    def loss(module, xb, yb):
        seen.append((module.training, yb))
        return linear_loss(module, xb, yb)

    y = torch.ones(4)
    pgd_perturbation(net, loss, torch.zeros(4, 2), y, epsilon=0.1, steps=2, generator=torch.Generator().manual_seed(0))
    assert [training for training, _ in seen] == [False, False] and all(yb is y for _, yb in seen)
    assert net.training


@pytest.mark.parametrize("n, fraction, n_val", [(100, 0.1, 10), (50, 0.1, 0), (80, 0.1, 8), (15, 0.5, 0), (16, 0.5, 8), (200, 0.0, 0)])
def test_split_sizes_and_the_tiny_data_rule(n, fraction, n_val):
    train, val = Trainer(validation_fraction=fraction, generator=torch.Generator().manual_seed(0)).split(n)
    assert len(val) == n_val and len(train) == n - n_val
    assert sorted(torch.cat([train, val]).tolist()) == list(range(n))  # disjoint, nothing lost


def test_batches_keep_order_unless_shuffled():
    trainer = Trainer(batch_size=4, generator=torch.Generator().manual_seed(0))
    index = torch.arange(10)
    assert [b.tolist() for b in trainer._batches(index, shuffle=False)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    shuffled = trainer._batches(index, shuffle=True)
    assert [len(b) for b in shuffled] == [4, 4, 2]
    flat = torch.cat(shuffled).tolist()
    assert sorted(flat) == list(range(10)) and flat != list(range(10))


def test_trimmed_mean_edges():
    trim = Trainer(trim_fraction=0.5)
    assert float(trim.trimmed_mean(torch.tensor([1.0, 2.0, 9.0]))) == 4.0  # fewer than 4 rows: plain mean
    assert float(trim.trimmed_mean(torch.tensor([1.0, 2.0, 3.0, 9.0]))) == 1.5  # ceil(4 * 0.5) = 2 kept
    assert float(trim.trimmed_mean(torch.tensor([1.0, 2.0, 3.0, 4.0, 100.0]))) == 2.0  # ceil(2.5) = 3 kept
    assert float(trim.trimmed_mean(torch.ones(2, 3))) == 1.0  # not one loss per row: plain mean
    assert float(Trainer(trim_fraction=0.99).trimmed_mean(torch.tensor([5.0, 1.0, 7.0, 3.0]))) == 1.0  # at least one kept


@pytest.mark.parametrize("kwargs, message", [
    ({"n_epochs": 0}, r"n_epochs and batch_size must be >= 1, got 0 and 256"),
    ({"batch_size": 0}, r"n_epochs and batch_size must be >= 1, got 100 and 0"),
    ({"adversarial": "fgsm"}, r"adversarial='fgsm'; expected None or 'pgd'"),
])
def test_bad_settings_are_named(kwargs, message):
    from metaad.exceptions import ParameterError

    with pytest.raises(ParameterError, match=message):
        Trainer(**kwargs).fit(torch.nn.Linear(2, 2), reconstruction, torch.zeros(20, 2))


def test_a_diverging_loss_is_a_clear_error():
    from metaad.exceptions import ParameterError

    def nan_loss(module, xb, yb):
        return reconstruction(module, xb, yb) * float("nan")

    with pytest.raises(ParameterError, match=r"training: the loss became nan at epoch 1; lower learning_rate or check the input scaling"):
        Trainer(n_epochs=3, batch_size=8).fit(torch.nn.Linear(2, 2), nan_loss, torch.randn(100, 2))


def test_min_delta_and_patience():
    X = torch.randn(200, 4, generator=torch.Generator().manual_seed(0))
    # improvements of 1e-5 relative are below min_delta=1e-4: they count as epochs without improvement
    loss = ScriptedValidation([1.0, 0.99999, 0.99998, 0.5, 0.4])
    history = Trainer(n_epochs=5, batch_size=256, patience=2, min_delta=1e-4, generator=torch.Generator().manual_seed(0)).fit(
        torch.nn.Linear(4, 4), loss, X
    )
    assert history.stopped_early and len(history.train_loss) == 3 and history.best_epoch == 0
    loss = ScriptedValidation([1.0, 0.98, 0.97, 0.9, 0.95])
    history = Trainer(n_epochs=5, batch_size=256, patience=2, min_delta=1e-4, generator=torch.Generator().manual_seed(0)).fit(
        torch.nn.Linear(4, 4), loss, X
    )
    assert not history.stopped_early and len(history.train_loss) == 5 and history.best_epoch == 3


def test_history_counts_steps_and_weights_batches_by_size():
    X = torch.arange(10, dtype=torch.float32).reshape(10, 1)
    seen = []

    def step(xb, yb):
        seen.append(xb.shape[0])
        return float(xb.shape[0])  # a batch's "loss" is its size

    history = Trainer(n_epochs=2, batch_size=4, validation_fraction=0.0, generator=torch.Generator().manual_seed(0)).fit(
        torch.nn.Linear(1, 1), reconstruction, X, step_fn=step
    )
    assert seen == [4, 4, 2, 4, 4, 2] and history.n_steps == 6
    assert history.train_loss == [pytest.approx((4 * 4 + 4 * 4 + 2 * 2) / 10)] * 2  # weighted by batch size
    assert history.seconds > 0 and history.val_loss == []


def test_parameters_and_batch_sampler_are_honoured():
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 3))
    frozen = {k: v.clone() for k, v in net[1].state_dict().items()}
    X = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    batches = []

    def sampler(train_index):
        batches.append(train_index[:5])
        return [train_index[:5]]

    history = Trainer(n_epochs=3, batch_size=16, validation_fraction=0.0, generator=torch.Generator().manual_seed(0)).fit(
        net, reconstruction, X, parameters=list(net[0].parameters()), batch_sampler=sampler
    )
    assert history.n_steps == 3 and len(batches) == 3  # one batch per epoch, from the sampler
    assert same(net[1].state_dict(), frozen)  # only the listed parameters moved
    assert not net.training  # left in eval mode


def test_history_round_trips_through_its_dict():
    """Saved models store ``to_dict()`` and rebuild the history with ``TrainingHistory(**d)``."""
    from metaad.detectors.trainer import TrainingHistory

    history = TrainingHistory(train_loss=[3.0, 2.0], val_loss=[2.5, 2.4], best_epoch=1, stopped_early=True, seconds=1.5,
                              n_steps=7, stopped_by_max_steps=True)
    assert TrainingHistory(**history.to_dict()) == history
    assert set(history.to_dict()) == {"train_loss", "val_loss", "best_epoch", "stopped_early", "seconds", "n_steps",
                                      "stopped_by_max_steps"}


def test_split_and_batches_draw_from_the_trainers_generator_only():
    state = torch.get_rng_state()
    a = Trainer(batch_size=3, generator=torch.Generator().manual_seed(5))
    b = Trainer(batch_size=3, generator=torch.Generator().manual_seed(5))
    torch.manual_seed(123)  # a different global state between the two must not matter
    assert all(torch.equal(x, y) for x, y in zip(a.split(100), b.split(100)))
    assert all(torch.equal(x, y) for x, y in zip(a._batches(torch.arange(10), True), b._batches(torch.arange(10), True)))
    torch.set_rng_state(state)
    a.split(100)
    a._batches(torch.arange(10), True)
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is left alone


def test_split_keeps_at_least_eight_training_rows():
    train, val = Trainer(validation_fraction=0.9).split(20)  # 18 for validation would leave 2 to train on
    assert len(val) == 0 and len(train) == 20


def test_labels_follow_their_rows_into_every_call():
    """DevNet's labels must reach the loss with their own rows: in training, validation, PGD and a step_fn."""
    X = torch.randn(120, 2, generator=torch.Generator().manual_seed(0))
    y = X[:, 0].clone()  # a row's label is its first value
    checked = []

    def loss(module, xb, yb):
        assert yb is not None and torch.allclose(yb, xb[:, 0], atol=0.5)  # allows the PGD shift (epsilon 0.1)
        checked.append(module.training)
        return reconstruction(module, xb, yb)

    Trainer(n_epochs=2, batch_size=32, adversarial="pgd", adversarial_steps=1, generator=torch.Generator().manual_seed(0)).fit(
        torch.nn.Linear(2, 2), loss, X, y
    )
    assert True in checked and False in checked  # training and validation/PGD calls both saw labels
    steps = []
    Trainer(n_epochs=1, batch_size=32, validation_fraction=0.0, generator=torch.Generator().manual_seed(0)).fit(
        torch.nn.Linear(2, 2), loss, X, y, step_fn=lambda xb, yb: steps.append(torch.equal(yb, xb[:, 0])) or 0.0
    )
    assert steps and all(steps)


def test_learning_rate_and_weight_decay_reach_the_optimizer():
    X = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    net = torch.nn.Linear(3, 3)
    before = weights(net)
    Trainer(n_epochs=2, batch_size=16, learning_rate=1e-12, generator=torch.Generator().manual_seed(0)).fit(net, reconstruction, X)
    assert all(torch.allclose(before[k], v, atol=1e-9) for k, v in net.state_dict().items())  # lr ~ 0: nothing moves

    def flat(module, xb, yb):
        return 0.0 * module(xb).sum(dim=1)  # no gradient from the loss: only weight decay moves the weights

    for decay, moved in ((0.0, False), (0.5, True)):
        net = torch.nn.Linear(3, 3)
        before = weights(net)
        Trainer(n_epochs=2, batch_size=16, learning_rate=0.1, weight_decay=decay, early_stopping=False,
                generator=torch.Generator().manual_seed(0)).fit(net, flat, X)
        assert (not same(weights(net), before)) is moved


def test_pgd_training_sees_the_loss_raising_perturbation_and_keeps_the_global_rng():
    net = LinearLoss([1.0, -1.0])
    received = []

    def step(xb, yb):
        received.append(xb.clone())
        return 0.0

    state = torch.get_rng_state()
    Trainer(n_epochs=1, batch_size=8, validation_fraction=0.0, adversarial="pgd", epsilon=0.25, adversarial_steps=1,
            generator=torch.Generator().manual_seed(0)).fit(net, linear_loss, torch.zeros(8, 2), step_fn=step)
    assert torch.allclose(received[0], torch.tensor([0.25, -0.25]).expand(8, 2))  # moved up the loss, by epsilon
    assert torch.equal(state, torch.get_rng_state())


def test_batches_are_reshuffled_every_epoch_and_batch_size_one_works():
    X = torch.arange(40, dtype=torch.float32).reshape(40, 1)
    orders = []
    Trainer(n_epochs=2, batch_size=40, validation_fraction=0.0, generator=torch.Generator().manual_seed(0)).fit(
        torch.nn.Linear(1, 1), reconstruction, X, step_fn=lambda xb, yb: orders.append(xb[:, 0].tolist()) or 0.0
    )
    assert orders[0] != sorted(orders[0]) and orders[0] != orders[1] and sorted(orders[0]) == sorted(orders[1])
    history = Trainer(n_epochs=1, batch_size=1, validation_fraction=0.0).fit(torch.nn.Linear(1, 1), reconstruction, X[:5])
    assert history.n_steps == 5
