"""A meta-learned initialization of the autoencoder for few-shot one-class adaptation.

Meta-training sees many one-class tasks that share a feature space (MNIST digits; a table's classes, segments
or entities) and learns initial weights from which a few gradient steps on a small normal sample of a *new*
task give a good detector. Two meta-objectives:

* ``"one-class"`` (first-order OC-MAML, Frikha et al. 2021; for few-shot one-class detection of a new task):
  each meta-iteration draws ``tasks_per_iteration`` tasks; for each, a copy of the network is fine-tuned exactly
  as :meth:`adapt` does at test time (``inner_steps`` Adam steps at ``adapt_learning_rate`` on ``k`` normal rows
  of the task, the one trainer, the trimmed loss), and the adapted copy is scored on a query set: other normal
  rows of the task and rows of the *other* tasks, the negatives. The outer loss is a soft-AUROC surrogate on the
  reconstruction errors (:func:`one_class_meta_loss`); its gradient at the adapted weights (first order)
  updates the initialization with Adam. The initialization learns to *specialize* in a few steps: normal rows
  of the new task reconstructed well, everything else badly.
* ``"reptile"`` (Nichol et al. 2018; the default, kept for drift adaptation): each meta-iteration trains a copy
  on one task for ``inner_steps`` steps of the reconstruction loss and moves the initialization towards the
  adapted weights: ``theta <- theta + epsilon * (phi - theta)``, ``epsilon`` annealed linearly from
  ``meta_learning_rate`` to 0. It learns a generalist autoencoder that also reconstructs the other tasks' rows:
  a good start for re-learning a drifted window quickly (``StreamDetector(adapt="meta")`` meta-trains it on
  segments of the reference window), but a few steps on a new task then separate that task from the others less
  well than from the one-class initialization (benchmarks/results/meta_init.md).

:meth:`ReptileInitialization.adapt` builds an ordinary ``autoencoder`` detector from the initialization and
fine-tunes it (``partial_fit``); the result is saved with :func:`metaad.save` like any model. The
initialization itself is saved as JSON plus safetensors (no pickle), written atomically.
"""

from __future__ import annotations

import copy
import json
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from sklearn.base import clone
from sklearn.utils import check_random_state

from metaad._io import atomic_directory, owned_folder_check
from metaad._version import __version__
from metaad.detectors.networks import MLPAutoencoder
from metaad.detectors.registry import make_detector
from metaad.detectors.trainer import Trainer
from metaad.exceptions import DataError, ModelFileError, NotFittedError, ParameterError

FORMAT = "metaad-meta-init"
FORMAT_VERSION = 1


def _reconstruction_loss(network: torch.nn.Module, xb: torch.Tensor, yb: torch.Tensor | None) -> torch.Tensor:
    return ((network(xb) - xb) ** 2).flatten(1).mean(dim=1)


def one_class_meta_loss(normal_scores: torch.Tensor, negative_scores: torch.Tensor) -> torch.Tensor:
    """The one-class meta-objective: a soft-AUROC surrogate on anomaly scores (lower is better).

    The mean over all (normal, negative) pairs of ``softplus(log s_normal - log s_negative)``, the logistic
    (RankNet) relaxation of ``1 - AUROC``; on the logarithm of the scores it does not depend on their scale, so
    tasks whose rows are harder to reconstruct weigh as much as easy ones.

    Examples
    --------
    >>> good = one_class_meta_loss(torch.tensor([0.1, 0.2]), torch.tensor([1.0, 2.0]))
    >>> bad = one_class_meta_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.1, 0.2]))
    >>> bool(good < math.log(2.0) < bad)
    True
    """
    difference = torch.log(normal_scores.clamp_min(1e-12))[:, None] - torch.log(negative_scores.clamp_min(1e-12))[None, :]
    return torch.nn.functional.softplus(difference).mean()


def segment_tasks(X: Any, *, n_tasks: int = 8, min_rows: int = 16, random_state: Any = None) -> list[np.ndarray]:
    """One-class tasks from one table: its k-means segments (clusters of at least ``min_rows`` rows).

    Examples
    --------
    >>> X = np.random.RandomState(0).normal(size=(400, 3))
    >>> tasks = segment_tasks(X, n_tasks=4, random_state=0)
    >>> len(tasks), sum(len(t) for t in tasks) == 400
    (4, True)
    """
    from sklearn.cluster import KMeans

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2 * min_rows:
        raise DataError(f"segment_tasks needs a 2-D table of at least {2 * min_rows} rows, got shape {X.shape}")
    k = max(1, min(int(n_tasks), X.shape[0] // min_rows))
    labels = KMeans(n_clusters=k, n_init=3, random_state=check_random_state(random_state)).fit_predict(X)
    tasks = [X[labels == c] for c in range(k) if np.sum(labels == c) >= min_rows]
    return tasks or [X]


class ReptileInitialization:
    """A meta-learned autoencoder initialization over one-class tasks: initial weights that adapt in a few steps.

    (The name is historical: Reptile is one of the two meta-objectives; see the module docstring.
    :data:`MetaInitialization` is the same class.)

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(64, 32)
    latent_size : int, default=8
    activation : str, default="relu"
    standardize : bool, default=True
        Standardize with the pooled mean and standard deviation of the meta-training tasks (saved with the
        initialization and used by every adapted detector); False for inputs already on a common scale.
    objective : {"reptile", "one-class"}, default="reptile"
        The meta-objective (see the module docstring): "one-class" for few-shot one-class detection of a new
        task, "reptile" (the default, what ``StreamDetector``'s drift adaptation was measured with) for re-learning
        a shifted distribution quickly. "one-class" needs at least two tasks (the negatives are the other tasks' rows);
        with a single task it falls back to "reptile" with a warning (``objective_`` records which ran).
    n_iterations : int, default=300
        Meta-iterations.
    inner_steps : int, default=10
        Adam steps of the inner fine-tune per task and meta-iteration; for "one-class" also the default number
        of steps of :meth:`adapt`, so that test time repeats what meta-training optimized (20 in the MNIST
        benchmark).
    inner_batch_size : int, default=32
        Batch size of the inner fine-tune and of the adapted detectors.
    inner_learning_rate : float, default=1e-3
        Adam's learning rate of Reptile's inner loop ("one-class" fine-tunes at ``adapt_learning_rate``, as
        :meth:`adapt` does).
    meta_learning_rate : float or None, default=None
        "one-class": the outer Adam's learning rate (None: 1e-3); "reptile": ``epsilon`` at the first iteration,
        annealed linearly to 0 (None: 1.0).
    adapt_learning_rate : float, default=1e-3
        The learning rate of the adapted detectors.
    tasks_per_iteration : int, default=2
        "one-class": tasks whose outer gradients are averaged per meta-iteration.
    support_sizes : tuple of int, default=(10, 50)
        "one-class": the number of normal rows ``k`` of an inner fine-tune, drawn from these per task (capped
        at half of the task's rows).
    n_query : int, default=64
        "one-class": normal query rows of the task and negative rows of the other tasks per task.
    trim_fraction : float, default=0.1
        "one-class": the trimmed loss of the inner fine-tune (the adapted detector trims its ``contamination``,
        0.1 by default).
    random_state : int or None

    Attributes
    ----------
    network_ : MLPAutoencoder
    objective_ : str
        The objective that ran.
    meta_loss_ : list of float
        "one-class": the outer loss per meta-iteration (mean over its tasks).

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> tasks = [rng.normal(m, 1.0, size=(100, 4)) for m in (-2.0, 0.0, 2.0)]
    >>> init = ReptileInitialization(hidden_sizes=(8,), latent_size=2, objective="one-class", n_iterations=10,
    ...                              random_state=0).fit(tasks)
    >>> det = init.adapt(rng.normal(1.0, 1.0, size=(30, 4)))   # inner_steps steps, as meta-trained
    >>> det.registry_name, det.decision_function(np.zeros((2, 4))).shape
    ('autoencoder', (2,))
    """

    def __init__(
        self,
        *,
        hidden_sizes: Sequence[int] = (64, 32),
        latent_size: int = 8,
        activation: str = "relu",
        standardize: bool = True,
        objective: str = "reptile",
        n_iterations: int = 300,
        inner_steps: int = 10,
        inner_batch_size: int = 32,
        inner_learning_rate: float = 1e-3,
        meta_learning_rate: float | None = None,
        adapt_learning_rate: float = 1e-3,
        tasks_per_iteration: int = 2,
        support_sizes: Sequence[int] = (10, 50),
        n_query: int = 64,
        trim_fraction: float = 0.1,
        random_state: Any = None,
    ) -> None:
        self.hidden_sizes = hidden_sizes
        self.latent_size = latent_size
        self.activation = activation
        self.standardize = standardize
        self.objective = objective
        self.n_iterations = n_iterations
        self.inner_steps = inner_steps
        self.inner_batch_size = inner_batch_size
        self.inner_learning_rate = inner_learning_rate
        self.meta_learning_rate = meta_learning_rate
        self.adapt_learning_rate = adapt_learning_rate
        self.tasks_per_iteration = tasks_per_iteration
        self.support_sizes = support_sizes
        self.n_query = n_query
        self.trim_fraction = trim_fraction
        self.random_state = random_state

    _PARAMS = ("hidden_sizes", "latent_size", "activation", "standardize", "objective", "n_iterations", "inner_steps",
               "inner_batch_size", "inner_learning_rate", "meta_learning_rate", "adapt_learning_rate", "tasks_per_iteration",
               "support_sizes", "n_query", "trim_fraction")

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._PARAMS}

    def _check_params(self) -> None:
        for name in ("latent_size", "n_iterations", "inner_steps", "inner_batch_size", "tasks_per_iteration", "n_query"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        for name in ("hidden_sizes", "support_sizes"):
            value = getattr(self, name)
            if not len(value) or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in value):
                raise ParameterError(f"{name} must be a non-empty sequence of positive integers, got {value!r}")
        if self.objective not in ("one-class", "reptile"):
            raise ParameterError(f"objective must be 'one-class' or 'reptile', got {self.objective!r}")
        for name in ("inner_learning_rate", "meta_learning_rate", "adapt_learning_rate"):
            value = getattr(self, name)
            if name == "meta_learning_rate" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 10:
                raise ParameterError(f"{name} must be in (0, 10], got {value!r}")
        trim = self.trim_fraction
        if isinstance(trim, bool) or not isinstance(trim, (int, float)) or not 0 <= trim < 0.5:
            raise ParameterError(f"trim_fraction must be in [0, 0.5), got {self.trim_fraction!r}")

    def _network(self, n_features: int) -> MLPAutoencoder:
        return MLPAutoencoder(n_features, list(self.hidden_sizes), int(self.latent_size), activation_name=self.activation)

    def fit(self, tasks: Sequence[Any]) -> ReptileInitialization:
        """Meta-train on ``tasks``: a sequence of 2-D arrays of normal rows with the same columns."""
        self._check_params()
        arrays = [np.asarray(t, dtype=np.float64).reshape(len(t), -1) for t in tasks]
        if not arrays or any(a.shape[0] < 2 for a in arrays) or len({a.shape[1] for a in arrays}) != 1:
            raise DataError("tasks must be a non-empty sequence of tables of at least 2 rows with the same number of columns; "
                            f"got shapes {[a.shape for a in arrays][:5]}")
        pooled = np.vstack(arrays)
        if not np.isfinite(pooled).all():
            raise DataError("tasks hold missing or infinite values")
        if self.standardize:
            std = pooled.std(0)
            std[std < 1e-12] = 1.0
            self.scaler_mean_, self.scaler_scale_ = pooled.mean(0).astype(np.float32), std.astype(np.float32)
        else:
            self.scaler_mean_ = np.zeros(pooled.shape[1], np.float32)
            self.scaler_scale_ = np.ones(pooled.shape[1], np.float32)
        del pooled
        self.n_features_in_ = arrays[0].shape[1]
        self.objective_ = self.objective
        if self.objective == "one-class" and len(arrays) < 2:
            warnings.warn("the one-class meta-objective needs at least two tasks (the other tasks' rows are the negatives); "
                          "meta-training with Reptile on the single task", UserWarning, stacklevel=2)
            self.objective_ = "reptile"
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        scaled = [torch.from_numpy(((a - self.scaler_mean_) / self.scaler_scale_).astype(np.float32)) for a in arrays]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = self._network(self.n_features_in_)
        generator = torch.Generator().manual_seed(seed)
        self.meta_loss_: list[float] = []
        if self.objective_ == "one-class":
            outer_lr = 1e-3 if self.meta_learning_rate is None else float(self.meta_learning_rate)
            outer = torch.optim.Adam(network.parameters(), lr=outer_lr)
            for _ in range(int(self.n_iterations)):
                self.meta_loss_.append(self._one_class_iteration(network, outer, scaled, rng, generator))
        else:
            n_rows = int(self.inner_steps) * int(self.inner_batch_size)
            epsilon0 = 1.0 if self.meta_learning_rate is None else float(self.meta_learning_rate)
            for iteration in range(int(self.n_iterations)):
                task = scaled[int(rng.randint(len(scaled)))]
                rows = task[torch.from_numpy(rng.choice(task.shape[0], min(n_rows, task.shape[0]), replace=False))]
                epsilon = epsilon0 * (1.0 - iteration / int(self.n_iterations))
                reptile_step(network, rows, epsilon=epsilon, steps=int(self.inner_steps), batch_size=int(self.inner_batch_size),
                             learning_rate=float(self.inner_learning_rate), generator=generator)
        self.network_ = network.eval()
        return self

    def _one_class_iteration(self, network: torch.nn.Module, outer: torch.optim.Optimizer, tasks: list[torch.Tensor],
                             rng: np.random.RandomState, generator: torch.Generator) -> float:
        """One first-order OC-MAML step: fine-tune a copy per task as :meth:`adapt` would, score a query of the
        task's normal rows and the other tasks' rows, and step the initialization along the outer gradient."""
        n_tasks = int(self.tasks_per_iteration)
        total = [torch.zeros_like(p) for p in network.parameters()]
        losses = []
        for _ in range(n_tasks):
            t = int(rng.randint(len(tasks)))
            task = tasks[t]
            k = min(int(self.support_sizes[int(rng.randint(len(self.support_sizes)))]), max(1, task.shape[0] // 2))
            order = torch.from_numpy(rng.permutation(task.shape[0]))
            support, normal = task[order[:k]], task[order[k:k + int(self.n_query)]]
            others = [j for j in range(len(tasks)) if j != t]
            picks = rng.choice(others, int(self.n_query))
            negative = torch.stack([tasks[j][int(rng.randint(tasks[j].shape[0]))] for j in picks])
            adapted = copy.deepcopy(network)
            fine_tune(adapted, support, steps=int(self.inner_steps), batch_size=int(self.inner_batch_size),
                      learning_rate=float(self.adapt_learning_rate), trim_fraction=float(self.trim_fraction), generator=generator)
            adapted.train()
            loss = one_class_meta_loss(_reconstruction_loss(adapted, normal, None), _reconstruction_loss(adapted, negative, None))
            for acc, grad in zip(total, torch.autograd.grad(loss, list(adapted.parameters()))):
                acc.add_(grad, alpha=1.0 / n_tasks)
            losses.append(float(loss.detach()))
        outer.zero_grad(set_to_none=True)
        for parameter, grad in zip(network.parameters(), total):
            parameter.grad = grad
        outer.step()
        mean = float(np.mean(losses))
        if not math.isfinite(mean):
            raise ParameterError(f"the one-class meta-loss became {mean}; lower meta_learning_rate or adapt_learning_rate")
        return mean

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError("this ReptileInitialization is not fitted yet; call fit(tasks) or load(path)")

    def detector(self, *, contamination: float = 0.1, template: Any = None, random_state: Any = None) -> Any:
        """An ``autoencoder`` detector whose weights and scaler are the initialization (not yet adapted)."""
        self._check_fitted()
        arch = {"hidden_sizes": [int(s) for s in self.hidden_sizes], "latent_size": int(self.latent_size),
                "activation": self.activation, "dropout": 0.0}
        params = {"hidden_sizes": tuple(arch["hidden_sizes"]), "latent_size": arch["latent_size"], "activation": self.activation,
                  "dropout": 0.0, "contamination": contamination}
        if template is not None:
            det = clone(template).set_params(**params)
        else:
            det = make_detector("autoencoder", learning_rate=float(self.adapt_learning_rate),
                                batch_size=int(self.inner_batch_size), random_state=random_state, **params)
        det._validate_params()
        arrays = {f"network.{k}": v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()}
        arrays.update(scaler_mean=self.scaler_mean_, scaler_scale=self.scaler_scale_, decision_scores=np.zeros(2))
        meta = {"architecture": arch, "feature_shape": [self.n_features_in_], "threshold": 0.0,
                "history": {}, "n_threads": None}
        det._set_fitted_state(arrays, meta)
        return det

    def adapt(self, X: Any, *, n_steps: int | None = None, contamination: float = 0.1, template: Any = None,
              random_state: Any = None) -> Any:
        """A fitted ``autoencoder`` detector: the initialization fine-tuned ``n_steps`` steps on the normal rows ``X``.

        ``n_steps`` None: ``inner_steps`` for the one-class objective (the fine-tune that meta-training
        optimized), 50 for Reptile."""
        det = self.detector(contamination=contamination, template=template, random_state=random_state)
        if n_steps is None:
            n_steps = int(self.inner_steps) if getattr(self, "objective_", self.objective) == "one-class" else 50
        return det.partial_fit(X, n_steps=n_steps)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``init.json`` and ``init.safetensors`` to the folder ``path`` atomically."""
        self._check_fitted()
        arrays = {f"network.{k}": np.ascontiguousarray(v.detach().cpu().numpy()) for k, v in self.network_.state_dict().items()}
        arrays.update(scaler_mean=self.scaler_mean_, scaler_scale=self.scaler_scale_)
        document = {"format": FORMAT, "format_version": FORMAT_VERSION, "metaad_version": __version__,
                    "n_features": int(self.n_features_in_), "objective_": self.objective_,
                    "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()}}
        check = owned_folder_check("init.json", what="a meta-initialization folder", hint="choose a new path")
        with atomic_directory(Path(path), check=check) as folder:
            save_file(arrays, str(folder / "init.safetensors"))
            (folder / "init.json").write_text(json.dumps(document, indent=2))
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ReptileInitialization:
        """Read a folder written by :meth:`save` (no code executes); a damaged one is a :class:`ModelFileError`."""
        folder = Path(path)
        try:
            document = json.loads((folder / "init.json").read_text())
            arrays = load_file(str(folder / "init.safetensors"))
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"{folder} is not a readable meta-initialization folder: {exc}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("format_version") != FORMAT_VERSION:
            raise ModelFileError(f"{folder / 'init.json'}: not a {FORMAT} file of version {FORMAT_VERSION}")
        params = dict(document.get("params", {}))
        params["hidden_sizes"] = tuple(params.get("hidden_sizes", ()))
        params.setdefault("objective", "reptile")  # written before the one-class objective existed
        if "support_sizes" in params:
            params["support_sizes"] = tuple(params["support_sizes"])
        try:
            init = cls(**params)
            init._check_params()
            n_features = int(document["n_features"])
            network = init._network(n_features)
            network.load_state_dict({k.removeprefix("network."): torch.from_numpy(np.array(v))
                                     for k, v in arrays.items() if k.startswith("network.")})
        except (TypeError, KeyError, RuntimeError, ValueError, ParameterError) as exc:
            raise ModelFileError(f"{folder}: the meta-initialization cannot be restored ({type(exc).__name__}: {exc})") from None
        for key in ("scaler_mean", "scaler_scale"):
            if key not in arrays or arrays[key].shape != (n_features,) or not np.isfinite(arrays[key]).all():
                raise ModelFileError(f"{folder / 'init.safetensors'}: array {key!r} is missing or not {n_features} finite values")
        init.scaler_mean_, init.scaler_scale_ = arrays["scaler_mean"], arrays["scaler_scale"]
        init.n_features_in_ = n_features
        init.objective_ = str(document.get("objective_", init.objective))
        init.network_ = network.eval()
        return init


def fine_tune(network: torch.nn.Module, rows: torch.Tensor, *, steps: int, batch_size: int, learning_rate: float,
              trim_fraction: float, generator: torch.Generator) -> None:
    """Fine-tune ``network`` in place as an adapted detector's ``partial_fit(rows, n_steps=steps)`` does: the one
    trainer, a fresh Adam, ``steps`` steps over shuffled batches, the trimmed reconstruction loss, last weights kept."""
    n_epochs = -(-int(steps) // -(-rows.shape[0] // int(batch_size)))
    trainer = Trainer(n_epochs=n_epochs, batch_size=batch_size, learning_rate=learning_rate, weight_decay=0.0,
                      validation_fraction=0.0, patience=n_epochs, early_stopping=False, max_steps=steps,
                      trim_fraction=trim_fraction, generator=generator, description="one-class meta-training")
    trainer.fit(network, _reconstruction_loss, rows)


def reptile_step(network: torch.nn.Module, rows: torch.Tensor, *, epsilon: float, steps: int, batch_size: int,
                 learning_rate: float, generator: torch.Generator) -> None:
    """One Reptile meta-update in place: train a copy ``phi`` for ``steps`` Adam steps on ``rows`` with the one
    trainer, then ``theta <- theta + epsilon * (phi - theta)``."""
    adapted = copy.deepcopy(network)
    trainer = Trainer(n_epochs=steps, batch_size=batch_size, learning_rate=learning_rate, weight_decay=0.0,
                      validation_fraction=0.0, early_stopping=False, max_steps=steps, generator=generator,
                      description="reptile")
    trainer.fit(adapted, _reconstruction_loss, rows)
    with torch.no_grad():
        for theta, phi in zip(network.parameters(), adapted.parameters()):
            theta.add_(epsilon * (phi - theta))


#: The same class under a name that does not single out one of its meta-objectives.
MetaInitialization = ReptileInitialization
