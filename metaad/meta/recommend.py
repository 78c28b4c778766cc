"""Ranked detector recommendations for a table, with the reason for each, without training any detector.

:func:`select` computes the table's meta-features (the landmarkers are the only models it fits), ranks every
configuration of the zoo with the selector trained on the knowledge base, and explains each recommendation by
how the configuration did on the most similar datasets of the knowledge base.

Examples
--------
>>> import numpy as np
>>> X = np.random.RandomState(0).normal(size=(300, 8))
>>> recs = select(X, top=3)
>>> list(recs.columns)
['rank', 'config_id', 'family', 'params', 'predicted_auroc', 'reason']
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pandas as pd

from metaad.exceptions import DataError, ParameterError

#: The selector used by :func:`select` and :class:`~metaad.meta.auto.AutoDetector`, chosen by
#: leave-one-dataset-out evaluation among 40 variants (benchmarks/results/selection.md): the 10 nearest
#: datasets' deviations, shrunk half-way to the global ranking.
SELECTOR_SETTINGS: dict[str, Any] = {"model": "knn", "n_neighbors": 10, "shrinkage": 0.5}

#: Whether the ``base.`` meta-features (:func:`metaad.meta.features.compute_meta_features`) are added to the
#: landmark features: with them no held-out dataset lost more than 0.05 AUROC to the global best (without them,
#: one did); they cost about 0.2 s on a 100,000 x 100 table, plus a few seconds of JIT compilation on the
#: first call in a process (PyOD's numba landmarkers).
INCLUDE_BASE_FEATURES = True

#: Fewer rows than this cannot be described well enough to choose a detector.
MIN_ROWS = 10

#: How many similar datasets explain a recommendation.
N_SIMILAR = 3


def _matrix(X: Any) -> np.ndarray:
    from metaad.meta.landmarks import _as_matrix

    if isinstance(X, pd.DataFrame):  # mixed types and gaps: preprocessed as `metaad select` does
        from metaad.data.preprocessing import TabularPreprocessor

        X = TabularPreprocessor(missing="impute").fit_transform(X)
    array = _as_matrix(X)
    if array.shape[0] < MIN_ROWS:
        raise DataError(
            f"{array.shape[0]} rows are too few to describe the data and choose a detector (select needs at least "
            f"{MIN_ROWS}); with so few rows use a parameter-free detector such as 'ecod'"
        )
    flat = array
    if not (flat != flat[:1]).any():
        raise DataError(f"all {array.shape[1]} column(s) are constant over the {array.shape[0]} rows: nothing to detect")
    return array


def similar_datasets(selector: Any, features: dict[str, float], config_ids: list[str], k: int = N_SIMILAR) -> list[dict[str, Any]]:
    """The ``k`` nearest knowledge-base datasets, with the AUROC there of each of ``config_ids`` and of the best."""
    near = selector.neighbours(features, k)
    out = []
    for name, distance in zip(near["dataset"], near["distance"]):
        perf = selector.performance_.loc[name]
        best = str(perf.idxmax())
        out.append({
            "dataset": str(name),
            "distance": round(float(distance), 4),
            "auroc": {c: (None if not np.isfinite(perf.get(c, np.nan)) else round(float(perf[c]), 4)) for c in config_ids},
            "best_config": best,
            "best_auroc": round(float(perf[best]), 4),
            "percentile": {c: (None if not np.isfinite(perf.get(c, np.nan))
                               else round(float((perf < perf[c]).mean()), 4)) for c in config_ids},
        })
    return out


def reason_for(config_id: str, rank: int, similar: list[dict[str, Any]], selector: Any) -> str:
    """One sentence: why ``config_id`` is ranked ``rank``."""
    parts = []
    for entry in similar:
        value = entry["auroc"].get(config_id)
        share = entry["percentile"].get(config_id)
        if value is not None:
            parts.append(f"{entry['dataset']} {value:.3f} (better than {100 * share:.0f}% of the zoo)")
    mean_global = float(np.nanmean(selector.deviation_[:, selector.config_ids_.index(config_id)]))
    overall = f"over all {len(selector.datasets_)} datasets it is {abs(mean_global):.3f} AUROC {'above' if mean_global >= 0 else 'below'} the average configuration"
    if parts:
        return f"#{rank}: on the most similar datasets: " + "; ".join(parts) + f"; {overall}"
    return f"#{rank}: {overall}"


def rank_configurations(features: dict[str, float], *, knowledge_dir: str | os.PathLike[str] | None = None,
                        families: tuple[str, ...] | list[str] | None = None) -> tuple[Any, pd.DataFrame]:
    """The trained selector and its ranking of every usable configuration (registered, unsupervised family)."""
    from metaad.detectors.registry import list_detectors
    from metaad.meta.user_knowledge import trained_selector

    selector = trained_selector(user_dir=knowledge_dir, include_base=INCLUDE_BASE_FEATURES, **SELECTOR_SETTINGS)
    ranking = selector.rank(features)
    usable = {info.name for info in list_detectors(details=True) if not info.cls._uses_labels and info.family != "meta"}
    keep = ranking["family"].isin(usable)
    if families is not None:
        unknown = sorted(set(families) - set(ranking["family"]))
        if unknown:
            raise ParameterError(f"families {unknown} have no configuration in the knowledge base; "
                                 f"known: {', '.join(sorted(set(ranking['family'])))}")
        keep &= ranking["family"].isin(list(families))
    ranking = ranking[keep].reset_index(drop=True)
    if ranking.empty:
        raise ParameterError("no configuration of the knowledge base can be used here")
    ranking["rank"] = np.arange(1, len(ranking) + 1)
    return selector, ranking


def select(X: Any, top: int = 5, *, knowledge_dir: str | os.PathLike[str] | None = None,
           families: tuple[str, ...] | list[str] | None = None) -> pd.DataFrame:
    """Recommend detector configurations for the table ``X``, best first, with predicted AUROC and the reason.

    Only the landmarkers of the meta-features are fitted; no detector of the zoo is trained.

    Parameters
    ----------
    X : pandas.DataFrame or array-like of shape (n_rows, n_columns)
        At least 10 rows. A DataFrame is preprocessed as by ``metaad select`` (text columns one-hot encoded,
        numbers standardized, missing values imputed with a warning); an array must be numeric and finite.
    top : int, default 5
        How many recommendations.
    knowledge_dir : path, optional
        The user's knowledge folder (see :func:`metaad.meta.user_knowledge.user_knowledge_dir`).
    families : sequence of str, optional
        Recommend only these detector families.

    Returns
    -------
    pandas.DataFrame
        Columns ``rank``, ``config_id``, ``family``, ``params`` (dict), ``predicted_auroc`` and ``reason``.

    Raises
    ------
    DataError
        For fewer than 10 rows, all-constant columns, or non-numeric or non-finite values.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.RandomState(0).normal(size=(300, 8))
    >>> recs = select(X, top=3)
    >>> len(recs), recs["rank"].tolist()
    (3, [1, 2, 3])
    >>> bool(recs["predicted_auroc"].between(0, 1).all()), recs["reason"][0].startswith("#1")
    (True, True)
    """
    from metaad.meta.landmarks import selection_features

    if not isinstance(top, (int, np.integer)) or isinstance(top, bool) or top < 1:
        raise ParameterError(f"top must be a positive integer, got {top!r}")
    features = selection_features(_matrix(X), include_base=INCLUDE_BASE_FEATURES)
    selector, ranking = rank_configurations(features, knowledge_dir=knowledge_dir, families=families)
    best = ranking.head(int(top)).copy()
    similar = similar_datasets(selector, features, best["config_id"].tolist())
    best["params"] = [json.loads(p) for p in best["params_json"]]
    best["reason"] = [reason_for(c, int(r), similar, selector) for c, r in zip(best["config_id"], best["rank"])]
    best["predicted_auroc"] = best["predicted_auroc"].round(4)
    return best[["rank", "config_id", "family", "params", "predicted_auroc", "reason"]].reset_index(drop=True)


__all__ = ["INCLUDE_BASE_FEATURES", "MIN_ROWS", "SELECTOR_SETTINGS", "rank_configurations", "reason_for", "select", "similar_datasets"]
