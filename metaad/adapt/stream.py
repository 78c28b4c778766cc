"""Streaming use of any registered detector: a reference window, a recent window, drift tests between them,
an adaptation policy and an adaptive threshold.

Rows arrive in batches of any size (:meth:`StreamDetector.process`); each is scored at once by the current
model and flagged against the current ``threshold_``. Every ``window`` rows the window closes:

1. its rows are tested against the reference window (:func:`metaad.adapt.drift.drift_test`: MMD on the
   features with a calibrated p-value, KL between the two windows' scores);
2. on drift (``p < alpha``) the model adapts by the ``adapt`` policy, on the window's rows judged normal:

   * ``"none"``: keep the model (drift is only reported; the reference stays, so a lasting drift keeps alarming);
   * ``"refit"``: a fresh clone of the detector fitted on the window;
   * ``"finetune"``: a few optimizer steps from the current weights (``partial_fit``, deep detectors);
   * ``"meta"``: a few steps from a meta-learned initialization (:class:`metaad.adapt.meta_init.ReptileInitialization`);

   after adapting, the window becomes the reference and ``version_`` grows by one;
3. the threshold follows the ``1 - contamination`` quantile of the recent scores of rows judged normal. A row
   is judged normal when its score is at most Tukey's far-out fence of its window (Q3 + 3 IQR): clear anomalies do
   not drag the threshold up, while a shift of the whole score distribution moves it (a threshold estimated
   only from rows below itself could only ever fall).

Memory is bounded by the window, the reference and ``threshold_memory`` scores, whatever the stream length.
"""

from __future__ import annotations

import copy
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

from metaad.adapt.drift import TESTS, drift_test
from metaad.exceptions import NotFittedError, ParameterError

POLICIES = ("none", "refit", "finetune", "meta")


@dataclass(frozen=True)
class WindowReport:
    """What happened in one closed window (one line of ``windows.csv`` in ``metaad monitor``)."""

    window: int
    first_row: int
    n_rows: int
    mmd2: float
    p_value: float
    test: str
    kl: float | None
    drift: bool
    n_flagged: int
    threshold: float
    score_q05: float
    score_q50: float
    score_q95: float
    adapted: bool
    adapt_seconds: float
    version: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def far_out_fence(scores: np.ndarray) -> float:
    """Tukey's far-out fence ``Q3 + 3 IQR``: scores above it are judged anomalous whatever the threshold.

    Examples
    --------
    >>> far_out_fence(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    10.0
    """
    q1, q3 = np.quantile(scores, [0.25, 0.75])
    return float(q3 + 3.0 * (q3 - q1))


class StreamDetector:
    """Wrap a detector for a stream: score rows as they come, test each window for drift, adapt, re-threshold.

    Parameters
    ----------
    detector : BaseDetector
        Any registered detector, fitted or not (:meth:`fit` fits it when it is not).
    window : int, default=500
        Rows per window (the drift test and the adaptation run once per window).
    adapt : {"none", "refit", "finetune", "meta"}, default="none"
        What to do on drift; see the module docstring. ``"finetune"`` needs a detector with ``partial_fit``
        (the deep detectors but wgan); ``"meta"`` an autoencoder.
    alpha : float, default=0.05
        Level of the drift test.
    test : {"auto", "permutation", "linear"}, default="auto"
    max_test_rows : int, default=500
        Rows of each window the permutation test uses.
    n_permutations : int, default=200
    finetune_steps : int, default=50
        Optimizer steps of ``"finetune"`` and ``"meta"``.
    meta_init : ReptileInitialization or None
        The initialization of ``"meta"``; None meta-trains one in :meth:`fit` on segments of the training rows
        (k-means clusters as one-class tasks, :func:`metaad.adapt.meta_init.segment_tasks`).
    threshold_memory : int or None
        Scores of rows judged normal that the threshold is estimated from (default: ``window``).
    random_state : int or None

    Examples
    --------
    >>> import numpy as np, metaad
    >>> rng = np.random.RandomState(0)
    >>> stream = StreamDetector(metaad.make_detector("ecod"), window=200, adapt="refit", random_state=0)
    >>> stream = stream.fit(rng.normal(size=(400, 3)))
    >>> scores, flags, reports = stream.process(rng.normal(size=(400, 3)))
    >>> [r.drift for r in reports]
    [False, False]
    >>> _, _, reports = stream.process(rng.normal(2.0, 1.0, size=(400, 3)))
    >>> [(r.drift, r.adapted, r.version) for r in reports]
    [(True, True, 1), (False, False, 1)]
    """

    def __init__(
        self,
        detector: Any,
        *,
        window: int = 500,
        adapt: str = "none",
        alpha: float = 0.05,
        test: str = "auto",
        max_test_rows: int = 500,
        n_permutations: int = 200,
        finetune_steps: int = 50,
        meta_init: Any = None,
        threshold_memory: int | None = None,
        random_state: Any = None,
    ) -> None:
        self.detector = detector
        self.window = window
        self.adapt = adapt
        self.alpha = alpha
        self.test = test
        self.max_test_rows = max_test_rows
        self.n_permutations = n_permutations
        self.finetune_steps = finetune_steps
        self.meta_init = meta_init
        self.threshold_memory = threshold_memory
        self.random_state = random_state

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        for name in ("window", "finetune_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (8 if name == "window" else 1):
                raise ParameterError(f"{name} must be an integer >= {8 if name == 'window' else 1}, got {value!r}")
        if self.adapt not in POLICIES:
            raise ParameterError(f"adapt={self.adapt!r}; expected one of {', '.join(POLICIES)}")
        if self.test not in TESTS:
            raise ParameterError(f"test={self.test!r}; expected one of {', '.join(TESTS)}")
        if not isinstance(self.alpha, (int, float)) or not 0 < self.alpha < 1:
            raise ParameterError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if self.adapt == "finetune" and not getattr(type(self.detector), "_supports_partial_fit", False):
            raise ParameterError(f"adapt='finetune' needs a detector with partial_fit (a deep detector); "
                                 f"{getattr(self.detector, 'registry_name', type(self.detector).__name__)} has none: use 'refit'")
        if self.adapt == "meta" and getattr(self.detector, "registry_name", "") != "autoencoder":
            raise ParameterError("adapt='meta' adapts an autoencoder from a meta-learned initialization; "
                                 f"the detector is {getattr(self.detector, 'registry_name', type(self.detector).__name__)!r}")

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any) -> StreamDetector:
        """Fit the detector on ``X`` unless it is fitted already; the last ``window`` rows of ``X`` are the reference."""
        self._check_params()
        self.rng_ = check_random_state(self.random_state)
        X = np.asarray(X, dtype=np.float64)
        self.detector_ = self.detector if hasattr(self.detector, "decision_scores_") else clone(self.detector).fit(X)
        if self.adapt == "meta":
            from metaad.adapt.meta_init import ReptileInitialization, segment_tasks

            if self.meta_init is not None:
                self.meta_init_ = self.meta_init
            else:
                arch = self.detector_.architecture_
                self.meta_init_ = ReptileInitialization(
                    hidden_sizes=tuple(arch["hidden_sizes"]), latent_size=arch["latent_size"], random_state=self.rng_.randint(2**31 - 1),
                ).fit(segment_tasks(X, random_state=self.rng_.randint(2**31 - 1)))
        reference = X[-int(self.window):]
        self.reference_ = reference
        self.reference_scores_ = self.detector_.decision_function(reference)
        self.threshold_ = float(self.detector_.threshold_)
        self.contamination_ = float(getattr(self.detector_, "contamination", 0.1))
        memory = int(self.threshold_memory or self.window)
        self.normal_scores_: deque[float] = deque(maxlen=memory)
        self.version_ = 0
        self.n_rows_ = 0
        self.n_windows_ = 0
        self._rows: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []
        self._buffered = 0
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "detector_"):
            raise NotFittedError("this StreamDetector is not fitted yet; call fit(X) on reference rows first")

    # ------------------------------------------------------------------ the stream
    def process(self, X: Any) -> tuple[np.ndarray, np.ndarray, list[WindowReport]]:
        """Score the rows of ``X`` in order; close every window they complete.

        Returns
        -------
        scores : numpy.ndarray of shape (n_rows,)
            Each row scored by the model current when it arrived.
        flags : numpy.ndarray of int
            1 where the score exceeded the threshold current when the row arrived.
        reports : list of WindowReport
            One per window closed by these rows.
        """
        self._check_fitted()
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ParameterError(f"process expects a 2-D batch of rows, got shape {X.shape}")
        scores, flags, reports = [], [], []
        start = 0
        while start < X.shape[0]:
            take = min(int(self.window) - self._buffered, X.shape[0] - start)
            part = X[start : start + take]
            part_scores = self.detector_.decision_function(part)
            scores.append(part_scores)
            flags.append((part_scores > self.threshold_).astype(int))
            self._rows.append(part)
            self._scores.append(part_scores)
            self._buffered += take
            start += take
            if self._buffered >= self.window:
                reports.append(self._close_window())
        empty = np.zeros(0)
        return (np.concatenate(scores) if scores else empty, np.concatenate(flags) if flags else empty.astype(int), reports)

    def flush(self) -> list[WindowReport]:
        """Close the last, partial window (when it holds at least 8 rows) at the end of a stream."""
        self._check_fitted()
        return [self._close_window()] if self._buffered >= 8 else []

    def _close_window(self) -> WindowReport:
        rows = np.vstack(self._rows)
        scores = np.concatenate(self._scores)
        first_row = self.n_rows_
        self._rows, self._scores, self._buffered = [], [], 0
        self.n_rows_ += rows.shape[0]
        result = drift_test(
            self.reference_, rows, reference_scores=self.reference_scores_, recent_scores=scores, alpha=self.alpha,
            test=self.test, max_rows=int(self.max_test_rows), n_permutations=int(self.n_permutations), random_state=self.rng_,
        )
        n_flagged = int(np.sum(scores > self.threshold_))
        adapted, seconds = False, 0.0
        fence = far_out_fence(scores)
        normal = rows[scores <= fence]
        if result.drift and self.adapt != "none" and normal.shape[0] >= 8:
            start = time.perf_counter()
            self.detector_ = self._adapted(normal)
            seconds = time.perf_counter() - start
            adapted = True
            self.version_ += 1
            self.reference_ = rows
            self.reference_scores_ = self.detector_.decision_function(rows)
            scores = self.reference_scores_
            fence = far_out_fence(scores)
            self.normal_scores_.clear()
        self.normal_scores_.extend(scores[scores <= fence].tolist())
        self.threshold_ = float(np.quantile(np.fromiter(self.normal_scores_, float), 1.0 - self.contamination_))
        q05, q50, q95 = (float(v) for v in np.quantile(scores, [0.05, 0.5, 0.95]))
        report = WindowReport(
            self.n_windows_, first_row, rows.shape[0], result.mmd2, result.p_value, result.test, result.kl, result.drift,
            n_flagged, self.threshold_, q05, q50, q95, adapted, seconds, self.version_,
        )
        self.n_windows_ += 1
        return report

    def _adapted(self, rows: np.ndarray) -> Any:
        """The model after adapting to ``rows`` by the policy (a new object: earlier versions stay as they were)."""
        if self.adapt == "refit":
            return clone(self.detector_).fit(rows)
        if self.adapt == "finetune":
            return copy.deepcopy(self.detector_).partial_fit(rows, n_steps=int(self.finetune_steps))
        return self.meta_init_.adapt(rows, n_steps=int(self.finetune_steps), contamination=self.contamination_,
                                     template=self.detector_)
