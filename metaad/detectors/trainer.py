"""The one training loop every deep detector uses.

A detector supplies its network and a loss that returns one value per sample; the :class:`Trainer` does the
rest: mini-batches drawn with a seeded ``torch.Generator``, Adam, a validation split of the training data
with early stopping (the best weights are restored), optional adversarial (PGD) training, a Rich progress bar
when verbose, and the device. Detectors whose step is not "one loss, one optimizer" (a GAN) pass a
``step_fn`` and still get batching, validation, early stopping, progress and the device from here.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from metaad.exceptions import ParameterError

logger = logging.getLogger(__name__)

LossFn = Callable[[nn.Module, torch.Tensor, "torch.Tensor | None"], torch.Tensor]
StepFn = Callable[[torch.Tensor, "torch.Tensor | None"], float]


@dataclass
class TrainingHistory:
    """What happened during training: mean loss per epoch on the training and validation parts."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = -1
    stopped_early: bool = False
    seconds: float = 0.0
    n_steps: int = 0
    #: True when ``max_steps`` ended training before ``n_epochs`` epochs (and before early stopping).
    stopped_by_max_steps: bool = False

    def to_dict(self) -> dict:
        return {
            "stopped_by_max_steps": self.stopped_by_max_steps,
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "seconds": self.seconds,
            "n_steps": self.n_steps,
        }


def pgd_perturbation(
    module: nn.Module,
    loss_fn: LossFn,
    xb: torch.Tensor,
    yb: torch.Tensor | None,
    *,
    epsilon: float,
    steps: int,
    generator: torch.Generator,
    maximize: bool = True,
) -> torch.Tensor:
    """Projected-gradient (L-infinity) perturbation of ``xb`` within ``epsilon`` that maximizes the loss.

    With ``maximize=False`` it minimizes instead (an attacker hiding an anomaly lowers its score).
    """
    step_size = 2.5 * epsilon / max(steps, 1)
    noise = torch.rand(xb.shape, generator=generator, device="cpu").to(xb.device)
    delta = (noise * 2 - 1) * epsilon
    was_training = module.training
    module.eval()
    for _ in range(steps):
        delta.requires_grad_(True)
        loss = loss_fn(module, xb + delta, yb).sum()
        (grad,) = torch.autograd.grad(loss, delta)
        direction = grad.sign() if maximize else -grad.sign()
        delta = (delta.detach() + step_size * direction).clamp_(-epsilon, epsilon)
    module.train(was_training)
    return delta.detach()


class Trainer:
    """Mini-batch training with early stopping on a validation split.

    Parameters
    ----------
    n_epochs : int
        Most passes over the training part.
    batch_size : int
    learning_rate, weight_decay : float
        Adam's settings.
    validation_fraction : float
        Share of the rows held out for early stopping (0 disables; tiny data sets train on everything).
    patience : int
        Epochs without improvement of the validation loss before stopping.
    device : torch.device
    generator : torch.Generator
        Seeded generator for the split and the batch order (CPU).
    adversarial : None or "pgd"
        Train on the worst-case perturbation of each batch within ``epsilon`` (L-infinity), found by
        ``adversarial_steps`` projected-gradient steps.
    verbose : bool
        Show a Rich progress bar.
    max_steps : int or None
        Stop after this many optimizer steps even within an epoch (None: no limit). On large tables an
        epoch holds hundreds of steps, and a network trained that long on contaminated data learns to
        reconstruct (or accept) the anomalies too.
    early_stopping : bool, default=True
        False trains all ``n_epochs`` and keeps the last weights (an adversarial game such as a GAN has no
        loss whose minimum marks the best weights).

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(3, 3)
    >>> loss = lambda m, xb, yb: ((m(xb) - xb) ** 2).mean(dim=1)
    >>> X = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    >>> trainer = Trainer(n_epochs=5, batch_size=16, generator=torch.Generator().manual_seed(0))
    >>> history = trainer.fit(net, loss, X)
    >>> len(history.train_loss)
    5
    """

    def __init__(
        self,
        *,
        n_epochs: int = 100,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        validation_fraction: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
        adversarial: str | None = None,
        epsilon: float = 0.1,
        adversarial_steps: int = 3,
        trim_fraction: float = 0.0,
        verbose: bool = False,
        description: str = "training",
        early_stopping: bool = True,
        max_steps: int | None = None,
    ) -> None:
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.min_delta = min_delta
        self.device = torch.device(device)
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.adversarial = adversarial
        self.epsilon = epsilon
        self.adversarial_steps = adversarial_steps
        self.trim_fraction = trim_fraction
        self.verbose = verbose
        self.description = description
        self.early_stopping = early_stopping
        self.max_steps = max_steps

    def split(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Indices of the training and validation parts (validation empty for tiny data)."""
        order = torch.randperm(n, generator=self.generator)
        n_val = int(math.floor(n * self.validation_fraction))
        if n_val < 8 or n - n_val < 8:
            return order, order[:0]
        return order[n_val:], order[:n_val]

    def _batches(self, index: torch.Tensor, shuffle: bool) -> list[torch.Tensor]:
        if shuffle:
            index = index[torch.randperm(len(index), generator=self.generator)]
        return list(torch.split(index, self.batch_size))

    def trimmed_mean(self, losses: torch.Tensor) -> torch.Tensor:
        """Mean of the per-sample losses without the highest ``trim_fraction`` of them.

        Training data are usually contaminated; leaving out the worst-fitted rows of each batch keeps the
        network from learning to reconstruct (or accept) the anomalies hidden in the training data.
        """
        if self.trim_fraction <= 0 or losses.ndim != 1 or losses.shape[0] < 4:
            return losses.mean()
        keep = max(1, int(math.ceil(losses.shape[0] * (1.0 - self.trim_fraction))))
        return torch.topk(losses, keep, largest=False, sorted=False).values.mean()

    @torch.no_grad()
    def evaluate(self, module: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor | None, index: torch.Tensor) -> float:
        """Mean per-sample loss over ``index`` with the module in eval mode."""
        module.eval()
        total, count = 0.0, 0
        for batch in self._batches(index, shuffle=False):
            losses = loss_fn(module, X[batch], None if y is None else y[batch])
            total += float(losses.sum())
            count += len(batch)
        return total / max(count, 1)

    def fit(
        self,
        module: nn.Module,
        loss_fn: LossFn,
        X: torch.Tensor,
        y: torch.Tensor | None = None,
        *,
        parameters: Sequence[torch.nn.Parameter] | None = None,
        step_fn: StepFn | None = None,
        batch_sampler: Callable[[torch.Tensor], list[torch.Tensor]] | None = None,
        optimizer: torch.optim.Optimizer | None = None,
    ) -> TrainingHistory:
        """Train ``module`` in place and return the :class:`TrainingHistory`.

        Parameters
        ----------
        loss_fn : callable(module, xb, yb) -> per-sample losses
            Minimized on training batches; its mean on the validation part drives early stopping.
        X, y : torch.Tensor
            Data already on ``device``; ``y`` optional (a few labels for semi-supervised detectors).
        parameters : sequence of parameters, optional
            What the optimizer updates (default: all of ``module``'s).
        step_fn : callable(xb, yb) -> float, optional
            Replaces the default optimizer step (used by detectors with several optimizers, e.g. a GAN).
        batch_sampler : callable(train_index) -> list of index batches, optional
            Replaces uniform shuffling (e.g. DevNet's balanced batches).
        optimizer : torch.optim.Optimizer, optional
            Continue with this optimizer and its state (``partial_fit``) instead of a fresh Adam; the one used
            is left in ``self.optimizer`` either way.
        """
        if self.n_epochs < 1 or self.batch_size < 1:
            raise ParameterError(f"n_epochs and batch_size must be >= 1, got {self.n_epochs} and {self.batch_size}")
        if self.adversarial not in (None, "pgd"):
            raise ParameterError(f"adversarial={self.adversarial!r}; expected None or 'pgd'")
        start = time.perf_counter()
        history = TrainingHistory()
        train_idx, val_idx = self.split(X.shape[0])
        if step_fn is None and optimizer is None:
            params = list(parameters) if parameters is not None else list(module.parameters())
            optimizer = torch.optim.Adam(params, lr=self.learning_rate, weight_decay=self.weight_decay)
        self.optimizer = optimizer if step_fn is None else None
        best_loss, best_state, bad_epochs, n_steps = math.inf, None, 0, 0
        progress = _progress(self.verbose, self.description, self.n_epochs)
        with progress as bar:
            task = bar.add_task(self.description, total=self.n_epochs) if bar is not None else None
            for epoch in range(self.n_epochs):
                module.train()
                total, count = 0.0, 0
                batches = batch_sampler(train_idx) if batch_sampler is not None else self._batches(train_idx, True)
                for batch in batches:
                    xb = X[batch]
                    yb = None if y is None else y[batch]
                    if self.adversarial == "pgd":
                        xb = xb + pgd_perturbation(
                            module, loss_fn, xb, yb, epsilon=self.epsilon, steps=self.adversarial_steps, generator=self.generator
                        )
                    if step_fn is not None:
                        batch_loss = step_fn(xb, yb)
                    else:
                        loss = self.trimmed_mean(loss_fn(module, xb, yb))
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        optimizer.step()
                        batch_loss = float(loss.detach())
                    total += batch_loss * len(batch)
                    count += len(batch)
                    n_steps += 1
                    if self.max_steps is not None and n_steps >= self.max_steps:
                        break
                history.train_loss.append(total / max(count, 1))
                monitored = history.train_loss[-1]
                if len(val_idx):
                    monitored = self.evaluate(module, loss_fn, X, y, val_idx)
                    history.val_loss.append(monitored)
                if not math.isfinite(monitored):
                    raise ParameterError(
                        f"{self.description}: the loss became {monitored} at epoch {epoch + 1}; "
                        "lower learning_rate or check the input scaling"
                    )
                improved = monitored < best_loss - self.min_delta * max(abs(best_loss), 1e-12)
                if improved or best_state is None or not self.early_stopping:
                    best_loss, bad_epochs, history.best_epoch = monitored, 0, epoch
                    best_state = copy.deepcopy(module.state_dict())
                else:
                    bad_epochs += 1
                if bar is not None:
                    bar.update(task, advance=1, description=f"{self.description} loss={monitored:.4g}")
                if bad_epochs >= self.patience:
                    history.stopped_early = True
                    break
                if self.max_steps is not None and n_steps >= self.max_steps:
                    history.stopped_by_max_steps = epoch + 1 < self.n_epochs
                    break
        if best_state is not None:
            module.load_state_dict(best_state)
        module.eval()
        history.n_steps = n_steps
        history.seconds = time.perf_counter() - start
        logger.debug("%s: %d epochs, best %d, %.2fs", self.description, len(history.train_loss), history.best_epoch, history.seconds)
        return history


class _NullProgress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _progress(verbose: bool, description: str, total: int):
    if not verbose:
        return _NullProgress()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} epochs"),
        TimeElapsedColumn(), TimeRemainingColumn(), transient=True,
    )
