"""Fast paths for small requests: the same scores as the general path, without its fixed per-call costs.

A one-row ``/score`` request spends far longer in fixed costs than in arithmetic: building a pandas frame,
checking it against the schema and imputing column by column (2-6 ms on the 2-core machine), and, for
an Isolation Forest, PyOD and scikit-learn walking their 100 trees one Python call at a time (10-25 ms
whether the request has one row or a hundred). Two shortcuts remove them; both give results equal to the
general path (the tests compare them) and step aside whenever they cannot promise that:

- :class:`NumericRows` turns JSON records straight into the preprocessed float32 matrix, for models whose
  columns are all numeric. A record with anything unusual (a missing or extra key, a null, a non-number,
  a value the scaling would overflow) makes it answer None, and the request takes the general path,
  which imputes, warns and words the errors.
- :class:`ForestScorer` scores an Isolation Forest by walking all its trees at once with numpy (one array
  operation per tree level), adding the per-tree path lengths in scikit-learn's order, so the scores are
  those of ``IsolationForest.decision_function`` (the tests require 1e-9; they agree to the last bit).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from metaad.data.preprocessing import FLOAT32_MAX, TabularPreprocessor

FAST_ROWS = 128
"""Requests of at most this many records take the fast path (inline on the event loop, no worker thread)."""

LOOP_BATCH_ROWS = 256
"""At most this many rows per fast-path call: calls run on the event loop, which must not stall for long
(256 rows: about 5 ms for a 100-tree forest on the 2-core machine, 2 ms for the autoencoder)."""

FOREST_ROWS = 1024
"""Matrices of at most this many rows go through :class:`ForestScorer`; larger ones through scikit-learn, whose
fixed cost is then small beside its per-row speed (numpy's walk is 40x faster for one row, 2x for 1,000)."""

_EXACT_INT = 2**53  # ints beyond this lose digits as float64 differently in Python and pandas: general path


class NumericRows:
    """JSON records to the preprocessed matrix for a model whose columns are all numeric.

    Parameters
    ----------
    preprocessor : TabularPreprocessor
        Fitted; :meth:`build` checks that every column is numeric and scaled.

    Examples
    --------
    >>> import pandas as pd
    >>> pre = TabularPreprocessor().fit(pd.DataFrame({"a": [1.0, 2.0, 4.0], "b": [0, 1, 1]}))
    >>> fast = NumericRows.build(pre)
    >>> fast.matrix([{"a": 2.0, "b": 1}]).tolist() == pre.transform(pd.DataFrame({"a": [2.0], "b": [1]})).tolist()
    True
    >>> fast.matrix([{"a": None, "b": 1}]) is None  # a gap: the general path imputes and warns
    True
    """

    def __init__(self, names: list[str], flags: list[bool], center: np.ndarray, scale: np.ndarray) -> None:
        self.names = names
        self.flags = flags
        self.center = center
        self.scale = scale
        self._keys = frozenset(names)

    @classmethod
    def build(cls, preprocessor: Any) -> NumericRows | None:
        """The fast converter for ``preprocessor``, or None when a column is not a plain numeric one."""
        if type(preprocessor) is not TabularPreprocessor or not hasattr(preprocessor, "schema_"):
            return None
        specs, stats = preprocessor.schema_.columns, preprocessor.column_stats_
        if not specs or any(spec.kind != "numeric" or stat.get("kind") != "numeric" for spec, stat in zip(specs, stats, strict=True)):
            return None
        if len(preprocessor.feature_names_out_) != len(specs):
            return None
        return cls([spec.name for spec in specs], [spec.dtype in ("bool", "boolean") for spec in specs],
                   np.array([float(stat["center"]) for stat in stats]), np.array([float(stat["scale"]) for stat in stats]))

    def matrix(self, rows: list[Any]) -> np.ndarray | None:
        """The float32 matrix of ``rows`` as the preprocessor makes it, or None where the general path must decide."""
        values = []
        keys, names, flags = self._keys, self.names, self.flags
        for row in rows:
            if type(row) is not dict or len(row) != len(names) or row.keys() != keys:
                return None
            for name, flag in zip(names, flags, strict=True):
                value = row[name]
                kind = type(value)
                if kind is float:
                    pass  # NaN and infinities fail the range check below
                elif kind is int:
                    if not -_EXACT_INT < value < _EXACT_INT:
                        return None
                elif not (flag and kind is bool):
                    return None
                values.append(value)
        if not rows:
            return None
        raw = np.array(values, dtype=np.float64).reshape(len(rows), len(names))
        scaled = (raw - self.center) / self.scale
        if not (np.abs(scaled) <= FLOAT32_MAX).all():
            return None
        return scaled.astype(np.float32)


class ForestScorer:
    """PyOD ``IForest`` scores (through metaad's ``iforest``) by walking every tree at once with numpy.

    Build it with :meth:`build`, which answers None for any other detector.

    Examples
    --------
    >>> import numpy as np, metaad
    >>> X = np.random.RandomState(0).normal(size=(300, 4)).astype(np.float32)
    >>> det = metaad.make_detector("iforest", random_state=0).fit(X)
    >>> fast = ForestScorer.build(det)
    >>> bool(np.abs(fast(X[:5]) - det.decision_function(X[:5])).max() <= 1e-9)
    True
    """

    def __init__(self, columns: np.ndarray, feature: np.ndarray, threshold: np.ndarray, left: np.ndarray,
                 right: np.ndarray, value: np.ndarray, roots: np.ndarray, depth: int, denominator: float,
                 offset: float, n_features: int) -> None:
        self.columns, self.feature, self.threshold = columns, feature, threshold
        self.left, self.right, self.value, self.roots = left, right, value, roots
        self.depth, self.denominator, self.offset, self.n_features = depth, denominator, offset, n_features

    @classmethod
    def build(cls, detector: Any) -> ForestScorer | None:
        """The fast scorer of a fitted metaad ``iforest`` detector, or None for anything else."""
        if getattr(detector, "registry_name", None) != "iforest":
            return None
        forest = getattr(getattr(detector, "model_", None), "detector_", None)
        from sklearn.ensemble import IsolationForest
        from sklearn.ensemble._iforest import _average_path_length

        if type(forest) is not IsolationForest or not hasattr(forest, "_decision_path_lengths"):
            return None
        columns = np.asarray(detector.informative_columns_, dtype=np.intp)
        subsample = forest._max_features != columns.size
        features, thresholds, lefts, rights, values, roots = [], [], [], [], [], []
        start, depth = 0, 0
        for tree, subset, lengths, averages in zip(forest.estimators_, forest.estimators_features_,
                                                   forest._decision_path_lengths, forest._average_path_length_per_tree,
                                                   strict=True):
            t = tree.tree_
            n = t.node_count
            leaf = t.children_left == -1
            index = np.arange(n)
            local = np.where(leaf, 0, t.feature)
            mapped = np.asarray(subset, dtype=np.intp)[local] if subsample else local
            features.append(np.where(leaf, 0, mapped))
            thresholds.append(np.where(leaf, np.inf, t.threshold))
            lefts.append(np.where(leaf, index, t.children_left) + start)
            rights.append(np.where(leaf, index, t.children_right) + start)
            values.append(lengths + averages - 1.0)  # scikit-learn's per-tree increment, in its order
            roots.append(start)
            start += n
            depth = max(depth, int(t.max_depth))
        n_features = columns.size
        return cls(columns, np.concatenate(features), np.concatenate(thresholds), np.concatenate(lefts),
                   np.concatenate(rights), np.concatenate(values), np.array(roots, dtype=np.intp), depth,
                   float(len(forest.estimators_) * _average_path_length([forest._max_samples])[0]),
                   float(forest.offset_), n_features)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Scores of the preprocessed float32 matrix ``X`` (higher = more anomalous), as the detector gives them."""
        X = np.asarray(X, dtype=np.float32)[:, self.columns]
        n = X.shape[0]
        node = np.repeat(self.roots[:, None], n, axis=1)  # (trees, rows)
        rows = np.arange(n)[None, :]
        for _ in range(self.depth):
            node = np.where(X[rows, self.feature[node]] <= self.threshold[node], self.left[node], self.right[node])
        depths = np.zeros(n)
        for increment in self.value[node]:  # tree by tree, as scikit-learn accumulates
            depths += increment
        if self.denominator != 0:
            samples = -(2 ** (-(depths / self.denominator)))
        else:
            samples = -(2 ** -np.ones_like(depths))
        return -(samples - self.offset)


def quiet(function: Callable[[], Any]) -> tuple[Any, list[str]]:
    """``function()`` and the distinct messages of the warnings it raised (as the general path reports them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            value = function()
    return value, sorted({str(w.message) for w in caught})
