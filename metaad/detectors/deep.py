"""The base of every deep detector: parameters, seeding, scaling, device and persistence in one place.

A deep detector declares its extra parameters in ``_extra_params`` and implements three hooks:

``_build_network(input_shape) -> nn.Module``
    the network, from the fitted input shape and the resolved architecture in ``architecture_``;
``_loss(network, xb, yb) -> per-sample losses``
    what the one :class:`~metaad.detectors.trainer.Trainer` minimizes;
``_score_batch(network, xb) -> per-sample scores``
    the anomaly score (higher = more anomalous).

Everything else (validation, standardization, ``device="auto"``, thread sizing, local seeding with a
``torch.Generator``, early stopping, adversarial training, saving the weights as safetensors) lives here.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from torch import nn

from metaad._constraints import Check, Integral, Interval, Options, Real
from metaad.detectors._params import make_init
from metaad.detectors.base import BaseDetector
from metaad.detectors.networks import ACTIVATIONS
from metaad.detectors.trainer import Trainer, TrainingHistory
from metaad.device import default_num_threads, resolve_device, torch_threads
from metaad.exceptions import EpochsCutWarning, ParameterError
from metaad.scores.reconstruction import feature_reconstruction_error

#: Torch threads of a network large enough to use several when ``n_threads`` is None: a fixed count rather than
#: the machine's cores (4 is what machines with 4 or more cores used before), so that the same seed gives the
#: same scores on any machine; fewer cores only make it slower.
LARGE_NETWORK_THREADS = 4

#: Parameters shared by every deep detector, with their defaults.
DEEP_PARAMS: dict[str, Any] = {
    "hidden_sizes": None,
    "latent_size": None,
    "activation": "relu",
    "dropout": 0.0,
    "n_epochs": 20,
    "max_steps": None,
    "batch_size": 256,
    "learning_rate": 1e-3,
    "weight_decay": 1e-5,
    "validation_fraction": 0.1,
    "patience": 10,
    "standardize": True,
    "trim_fraction": "auto",
    "adversarial": None,
    "epsilon": 0.1,
    "adversarial_steps": 3,
    "device": "auto",
    "n_threads": None,
    "verbose": False,
    "contamination": 0.1,
    "threshold": None,
    "random_state": None,
}

_POSITIVE_INT = Interval(Integral, 1, None)


def _positive_int_sizes(sizes: Any) -> bool:
    return isinstance(sizes, (tuple, list, np.ndarray)) and all(isinstance(s, (int, np.integer)) and s >= 1 for s in sizes)


class BaseDeepDetector(BaseDetector):
    """Shared machinery of the deep detectors; see the module docstring for the hooks."""

    _extra_params: ClassVar[dict[str, Any]] = {}
    _input_dtype = np.float32
    _parameter_constraints: ClassVar[dict[str, Any]] = {
        **BaseDetector._parameter_constraints,
        "hidden_sizes": [None, Check("a tuple of positive integers", _positive_int_sizes)],
        "latent_size": [None, _POSITIVE_INT],
        "activation": [Options(*ACTIVATIONS)],
        "dropout": [Interval(Real, 0, 0.99, closed="left")],
        "n_epochs": [_POSITIVE_INT],
        "max_steps": [None, _POSITIVE_INT],
        "batch_size": [_POSITIVE_INT],
        "learning_rate": [Interval(Real, 0, 10, closed="right")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 0.5, closed="left")],
        "patience": [_POSITIVE_INT],
        "standardize": [bool],
        "trim_fraction": [Options("auto"), Interval(Real, 0, 1, closed="left")],
        "adversarial": [None, Options("pgd")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "adversarial_steps": [_POSITIVE_INT],
        # resolve_device raises its own message ("device='cuda' was requested but no CUDA device is available")
        "device": [Check("'auto', 'cpu', 'cuda' or 'cuda:N'", lambda v: resolve_device(v) is not None)],
        "n_threads": [None, _POSITIVE_INT],
        "verbose": [bool, Interval(Integral, 0, None)],
    }

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            cls.__init__ = make_init({**DEEP_PARAMS, **cls._extra_params}, cls.__name__)

    # ------------------------------------------------------------------ hooks
    def _build_network(self, input_shape: tuple[int, ...]) -> nn.Module:
        raise NotImplementedError

    def _loss(self, network: nn.Module, xb: torch.Tensor, yb: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def _score_batch(self, network: nn.Module, xb: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _resolve_architecture(self, input_shape: tuple[int, ...]) -> dict[str, Any]:
        """The architecture actually built (sizes chosen from the input when left as None)."""
        from metaad.detectors.networks import default_hidden_sizes, default_latent_size

        n_features = int(np.prod(input_shape))
        latent = self.latent_size if self.latent_size is not None else default_latent_size(n_features)
        hidden = tuple(self.hidden_sizes) if self.hidden_sizes is not None else default_hidden_sizes(n_features, latent)
        return {"hidden_sizes": list(hidden), "latent_size": int(latent), "activation": self.activation, "dropout": float(self.dropout)}

    def _train(self, trainer: Trainer, X: torch.Tensor, y: torch.Tensor | None) -> TrainingHistory:
        """Train ``self.network_``; detectors with several optimizers or an initialization override this."""
        return trainer.fit(self.network_, self._loss, X, y)

    def _extra_state(self) -> dict[str, np.ndarray]:
        """Fitted tensors besides the network's weights (e.g. Deep SVDD's centre)."""
        return {}

    def _set_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`_extra_state` saved."""

    def _trim_fraction(self) -> float:
        if self.trim_fraction == "auto":
            return float(self.contamination) if not self._uses_labels else 0.0
        return float(self.trim_fraction)

    # ------------------------------------------------------------------ scaling
    def _fit_scaler(self, X: np.ndarray) -> None:
        if self.standardize:
            flat = X.reshape(X.shape[0], -1)
            mean = flat.mean(axis=0, dtype=np.float64)
            std = flat.std(axis=0, dtype=np.float64)
            std[std < 1e-12] = 1.0
            self.scaler_mean_, self.scaler_scale_ = mean.astype(np.float32), std.astype(np.float32)
        else:
            self.scaler_mean_ = np.zeros(int(np.prod(X.shape[1:])), dtype=np.float32)
            self.scaler_scale_ = np.ones_like(self.scaler_mean_)

    def _scale(self, X: np.ndarray) -> np.ndarray:
        flat = (X.reshape(X.shape[0], -1) - self.scaler_mean_) / self.scaler_scale_
        return np.ascontiguousarray(flat.reshape(X.shape), dtype=np.float32)

    # ------------------------------------------------------------------ fit / score
    def _n_threads(self) -> int | None:
        """Torch CPU threads for this network: ``n_threads``, else a count set by the network's size alone.

        The count changes the order of floating-point reductions, hence the scores (by up to 5.7e-3 between 1
        and 2 threads), so it never depends on the machine: a large network gets
        :data:`LARGE_NETWORK_THREADS` whatever the number of cores. Fitting records it in ``n_threads_``,
        which scoring and saved models reuse.
        """
        if self.device_.type != "cpu":
            return None
        if self.n_threads is not None:
            return int(self.n_threads)
        n_params = sum(p.numel() for p in self.network_.parameters())
        return default_num_threads(n_params, self.batch_size, cores=LARGE_NETWORK_THREADS)

    def _scoring_threads(self) -> int | None:
        """The thread count the model was trained with (``n_threads_``), so that scores match on any machine."""
        if self.device_.type != "cpu":
            return None
        trained = getattr(self, "n_threads_", None)
        return trained if trained is not None else self._n_threads()

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        self.device_ = resolve_device(self.device)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self._fit_scaler(X)
        input_shape = tuple(X.shape[1:])
        self.architecture_ = self._resolve_architecture(input_shape)
        devices = [self.device_.index or 0] if self.device_.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            self.network_ = self._build_network(input_shape).to(self.device_)
            generator = torch.Generator().manual_seed(seed)
            trainer = Trainer(
                n_epochs=self.n_epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
                weight_decay=self.weight_decay, validation_fraction=self.validation_fraction, patience=self.patience,
                device=self.device_, generator=generator, adversarial=self.adversarial, epsilon=self.epsilon,
                adversarial_steps=self.adversarial_steps, max_steps=self.max_steps, trim_fraction=self._trim_fraction(), verbose=self.verbose, description=self.registry_name,
            )
            X_tensor = torch.from_numpy(self._scale(X)).to(self.device_)
            y_tensor = None if y is None else torch.from_numpy(np.asarray(y, dtype=np.float32)).to(self.device_)
            self.n_threads_ = self._n_threads()
            with torch_threads(self.n_threads_):
                self.history_ = self._train(trainer, X_tensor, y_tensor)
                self.optimizer_ = getattr(trainer, "optimizer", None)  # partial_fit continues with its state
                self.decision_scores_ = self._score_tensor(X_tensor)

    @torch.no_grad()
    def _score_tensor(self, X: torch.Tensor) -> np.ndarray:
        self.network_.eval()
        chunk = max(self.batch_size, 4096)
        out = [self._score_batch(self.network_, X[i : i + chunk]).detach().cpu() for i in range(0, X.shape[0], chunk)]
        return torch.cat(out).double().numpy()

    def _score(self, X: np.ndarray) -> np.ndarray:
        X_tensor = torch.from_numpy(self._scale(X)).to(self.device_)
        with torch_threads(self._scoring_threads()):
            return self._score_tensor(X_tensor)

    def _to_tensor(self, X: Any) -> torch.Tensor:
        """Validate and scale raw input the way ``decision_function`` does (used by attacks and explanations)."""
        self._check_fitted()
        return torch.from_numpy(self._scale(self._validate_input(X, reset=False))).to(self.device_)

    def _reconstruction_contributions(self, X: Any) -> np.ndarray:
        """Squared residual of each input value against ``network_(X)`` over the number of features, one
        flattened row per input row: the per-feature part of a reconstruction score (used by ``explain``)."""
        X_tensor = self._to_tensor(X)
        with torch.no_grad():
            errors = feature_reconstruction_error(X_tensor, self.network_(X_tensor))
        return errors.double().cpu().numpy() / self.n_features_in_

    # ------------------------------------------------------------------ the step budget
    def fit(self, X: Any, y: Any = None) -> BaseDeepDetector:
        """Fit on ``X`` (see :meth:`BaseDetector.fit`); warns when ``max_steps`` cut an explicit ``n_epochs`` short.

        ``max_steps`` is a budget of optimizer steps that holds whatever ``n_epochs`` says (long training on
        contaminated data learns the anomalies too). When ``n_epochs`` differs from the detector's default and
        the budget ends training before that many epochs, a ``UserWarning`` says how many epochs ran and how
        to run them all (``max_steps=None`` or a larger budget); ``history_.stopped_by_max_steps`` records it.
        """
        super().fit(X, y)
        self._warn_if_epochs_cut()
        return self

    def _warn_if_epochs_cut(self) -> None:
        history = self.history_
        default = inspect.signature(type(self)).parameters["n_epochs"].default
        if history.stopped_by_max_steps and self.n_epochs != default:
            warnings.warn(
                f"{self.registry_name}: n_epochs={self.n_epochs} was asked for, but max_steps={self.max_steps} ended "
                f"training after {len(history.train_loss)} epoch(s) ({history.n_steps} optimizer steps); pass "
                "max_steps=None (--param max_steps=null on the command line) or a larger max_steps to run every epoch",
                EpochsCutWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------------ streaming
    #: False where a step is not "one loss, one optimizer" (a GAN's game): such a detector has no ``partial_fit``.
    _supports_partial_fit: ClassVar[bool] = True

    @available_if(lambda self: type(self)._supports_partial_fit)
    def partial_fit(self, X: Any, y: Any = None, *, n_steps: int | None = None, n_epochs: int = 1) -> BaseDeepDetector:
        """Continue training from the current weights and optimizer state on the batch ``X``.

        The first call on an unfitted detector is :meth:`fit`. Later calls keep the network, the scaler and
        Adam's moments, and run ``n_epochs`` passes over ``X`` (at most ``n_steps`` optimizer steps) on the one
        trainer, with the trimmed loss (``trim_fraction``) so that anomalies in the batch do little harm and
        no validation split (the last weights are kept). ``decision_scores_`` and ``threshold_`` then describe
        this batch.

        Examples
        --------
        >>> import numpy as np, metaad
        >>> rng = np.random.RandomState(0)
        >>> det = metaad.make_detector("autoencoder", n_epochs=3, batch_size=32, random_state=0)
        >>> det = det.fit(rng.normal(size=(200, 4)))
        >>> before = det.decision_function(np.full((1, 4), 3.0))
        >>> _ = det.partial_fit(rng.normal(3.0, 1.0, size=(200, 4)), n_epochs=3)
        >>> bool(det.decision_function(np.full((1, 4), 3.0)) < before)   # it learned the new batch
        True
        """
        if not hasattr(self, "network_"):
            return self.fit(X, y)
        self._check_fitted()
        for name, value in (("n_epochs", n_epochs), ("n_steps", 1 if n_steps is None else n_steps)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"{self.registry_name}: partial_fit {name} must be a positive integer, got {value!r}")
        array = self._validate_input(X, reset=False)
        labels = self._validate_labels(y, array.shape[0])
        self.n_partial_fits_ = getattr(self, "n_partial_fits_", 0) + 1
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        generator = torch.Generator().manual_seed((seed + 7919 * self.n_partial_fits_) % (2**31 - 1))
        if n_steps is not None:
            n_epochs = -(-int(n_steps) // -(-array.shape[0] // self.batch_size))
        trainer = Trainer(
            n_epochs=int(n_epochs), batch_size=self.batch_size, learning_rate=self.learning_rate,
            weight_decay=self.weight_decay, validation_fraction=0.0, patience=int(n_epochs), device=self.device_,
            generator=generator, adversarial=self.adversarial, epsilon=self.epsilon, adversarial_steps=self.adversarial_steps,
            max_steps=n_steps, trim_fraction=self._trim_fraction(), early_stopping=False, description=self.registry_name,
        )
        X_tensor = torch.from_numpy(self._scale(array)).to(self.device_)
        y_tensor = None if labels is None else torch.from_numpy(labels.astype(np.float32)).to(self.device_)
        optimizer = getattr(self, "optimizer_", None)
        if optimizer is None:  # a loaded model: its optimizer state was not saved
            optimizer = torch.optim.Adam(self.network_.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        with torch_threads(self._scoring_threads()):
            self.partial_history_ = trainer.fit(self.network_, self._loss, X_tensor, y_tensor, optimizer=optimizer)
            self.decision_scores_ = self._score_tensor(X_tensor)
        self.optimizer_ = optimizer
        self._set_threshold()
        return self

    # ------------------------------------------------------------------ persistence
    def _get_fitted_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {f"network.{k}": v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()}
        arrays.update({f"extra.{k}": v for k, v in self._extra_state().items()})
        arrays["scaler_mean"] = self.scaler_mean_
        arrays["scaler_scale"] = self.scaler_scale_
        arrays["decision_scores"] = self.decision_scores_
        meta = {
            "architecture": self.architecture_,
            "feature_shape": list(self.feature_shape_),
            "threshold": self.threshold_,
            "history": self.history_.to_dict(),
            "n_threads": getattr(self, "n_threads_", None),
        }
        return arrays, meta

    def _set_fitted_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Rebuild the network from a state :mod:`metaad._model_schema` has checked (shapes, finiteness)."""
        self.device_ = resolve_device(self.device)
        self.n_threads_ = meta.get("n_threads")  # None in models saved before it was recorded
        self.feature_shape_ = tuple(meta["feature_shape"])
        self.n_features_in_ = int(np.prod(self.feature_shape_))
        self.architecture_ = meta["architecture"]
        self.scaler_mean_ = arrays["scaler_mean"]
        self.scaler_scale_ = arrays["scaler_scale"]
        self.network_ = self._build_network(self.feature_shape_)
        state = {k.removeprefix("network."): torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith("network.")}
        self.network_.load_state_dict(state)
        self.network_.to(self.device_).eval()
        self._set_extra_state({k.removeprefix("extra."): v for k, v in arrays.items() if k.startswith("extra.")})
        self.history_ = TrainingHistory(**meta["history"])
        self.decision_scores_ = np.asarray(arrays["decision_scores"], dtype=np.float64)
        self.threshold_ = float(meta["threshold"])
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
