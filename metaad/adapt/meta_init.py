"""A meta-learned initialization of the autoencoder (Reptile, Nichol et al. 2018) for few-shot adaptation.

Meta-training sees many one-class tasks that share a feature space (MNIST digits; a table's classes, segments
or entities) and learns initial weights from which a few gradient steps on a small normal sample of a *new*
task give a good detector. Each meta-iteration draws a task, trains a copy of the network on it for
``inner_steps`` steps with the one trainer (:class:`metaad.detectors.trainer.Trainer`, a fresh Adam), and
moves the initialization towards the adapted weights: ``theta <- theta + epsilon * (phi - theta)``, with
``epsilon`` annealed linearly from ``meta_learning_rate`` to 0.

:meth:`ReptileInitialization.adapt` builds an ordinary ``autoencoder`` detector from the initialization and
fine-tunes it (``partial_fit``); the result is saved with :func:`metaad.save` like any model. The
initialization itself is saved as JSON plus safetensors (no pickle), written atomically.
"""

from __future__ import annotations

import copy
import json
import os
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
    """Reptile over one-class tasks: initial autoencoder weights that adapt in a few steps.

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(64, 32)
    latent_size : int, default=8
    activation : str, default="relu"
    standardize : bool, default=True
        Standardize with the pooled mean and standard deviation of the meta-training tasks (saved with the
        initialization and used by every adapted detector); False for inputs already on a common scale.
    n_iterations : int, default=300
        Meta-iterations (one task each).
    inner_steps : int, default=10
        Adam steps on a task per meta-iteration.
    inner_batch_size : int, default=32
    inner_learning_rate : float, default=1e-3
    meta_learning_rate : float, default=1.0
        Reptile's ``epsilon`` at the first iteration (annealed linearly to 0).
    adapt_learning_rate : float, default=1e-3
        The learning rate of the adapted detectors.
    random_state : int or None

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> tasks = [rng.normal(m, 1.0, size=(100, 4)) for m in (-2.0, 0.0, 2.0)]
    >>> init = ReptileInitialization(hidden_sizes=(8,), latent_size=2, n_iterations=20, random_state=0).fit(tasks)
    >>> det = init.adapt(rng.normal(1.0, 1.0, size=(30, 4)), n_steps=10)
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
        n_iterations: int = 300,
        inner_steps: int = 10,
        inner_batch_size: int = 32,
        inner_learning_rate: float = 1e-3,
        meta_learning_rate: float = 1.0,
        adapt_learning_rate: float = 1e-3,
        random_state: Any = None,
    ) -> None:
        self.hidden_sizes = hidden_sizes
        self.latent_size = latent_size
        self.activation = activation
        self.standardize = standardize
        self.n_iterations = n_iterations
        self.inner_steps = inner_steps
        self.inner_batch_size = inner_batch_size
        self.inner_learning_rate = inner_learning_rate
        self.meta_learning_rate = meta_learning_rate
        self.adapt_learning_rate = adapt_learning_rate
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (
            "hidden_sizes", "latent_size", "activation", "standardize", "n_iterations", "inner_steps", "inner_batch_size",
            "inner_learning_rate", "meta_learning_rate", "adapt_learning_rate")}

    def _check_params(self) -> None:
        for name in ("latent_size", "n_iterations", "inner_steps", "inner_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        if not all(isinstance(s, (int, np.integer)) and s >= 1 for s in self.hidden_sizes):
            raise ParameterError(f"hidden_sizes must be positive integers, got {self.hidden_sizes!r}")
        for name in ("inner_learning_rate", "meta_learning_rate", "adapt_learning_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value <= 10:
                raise ParameterError(f"{name} must be in (0, 10], got {value!r}")

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
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        scaled = [torch.from_numpy(((a - self.scaler_mean_) / self.scaler_scale_).astype(np.float32)) for a in arrays]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = self._network(self.n_features_in_)
        generator = torch.Generator().manual_seed(seed)
        n_rows = int(self.inner_steps) * int(self.inner_batch_size)
        for iteration in range(int(self.n_iterations)):
            task = scaled[int(rng.randint(len(scaled)))]
            rows = task[torch.from_numpy(rng.choice(task.shape[0], min(n_rows, task.shape[0]), replace=False))]
            epsilon = float(self.meta_learning_rate) * (1.0 - iteration / int(self.n_iterations))
            reptile_step(network, rows, epsilon=epsilon, steps=int(self.inner_steps), batch_size=int(self.inner_batch_size),
                         learning_rate=float(self.inner_learning_rate), generator=generator)
        self.network_ = network.eval()
        return self

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

    def adapt(self, X: Any, *, n_steps: int = 50, contamination: float = 0.1, template: Any = None,
              random_state: Any = None) -> Any:
        """A fitted ``autoencoder`` detector: the initialization fine-tuned ``n_steps`` steps on the normal rows ``X``."""
        det = self.detector(contamination=contamination, template=template, random_state=random_state)
        return det.partial_fit(X, n_steps=n_steps)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``init.json`` and ``init.safetensors`` to the folder ``path`` atomically."""
        self._check_fitted()
        arrays = {f"network.{k}": np.ascontiguousarray(v.detach().cpu().numpy()) for k, v in self.network_.state_dict().items()}
        arrays.update(scaler_mean=self.scaler_mean_, scaler_scale=self.scaler_scale_)
        document = {"format": FORMAT, "format_version": FORMAT_VERSION, "metaad_version": __version__,
                    "n_features": int(self.n_features_in_),
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
        init.network_ = network.eval()
        return init


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
