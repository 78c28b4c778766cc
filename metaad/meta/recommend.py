"""Ranked detector recommendations for a table, with the reason for each, without training any detector.

:func:`select` runs the first steps of :mod:`metaad.meta.selection`: the table's meta-features (the landmarkers
are the only models it fits), the selector's ranking of every configuration for a table of this size, and an
explanation of each recommendation by how the configuration did on the most similar knowledge-base tasks.

Examples
--------
>>> import numpy as np
>>> X = np.random.RandomState(0).normal(size=(300, 8))
>>> recs = select(X, top=3)
>>> list(recs.columns)
['rank', 'config_id', 'family', 'params', 'predicted_auroc', 'predicted_seconds', 'reason']
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pandas as pd

from metaad.exceptions import ParameterError


def reason_for(config_id: str, rank: int, similar: list[dict[str, Any]], selector: Any) -> str:
    """One sentence: why ``config_id`` is ranked ``rank``."""
    parts = []
    for entry in similar:
        value = entry["auroc"].get(config_id)
        share = entry["percentile"].get(config_id)
        if value is not None:
            parts.append(f"{entry['task']} {value:.3f} (better than {100 * share:.0f}% of the zoo)")
    mean_global = float(np.nanmean(selector.deviation_[:, selector.config_ids_.index(config_id)]))
    overall = (f"over all {len(selector.tasks_)} tasks it is {abs(mean_global):.3f} AUROC "
               f"{'above' if mean_global >= 0 else 'below'} the average configuration")
    if parts:
        return f"#{rank}: on the most similar tasks: " + "; ".join(parts) + f"; {overall}"
    return f"#{rank}: {overall}"


def select(X: Any, top: int = 5, *, knowledge: str | os.PathLike[str] | None = None,
           knowledge_dir: str | os.PathLike[str] | None = None,
           families: tuple[str, ...] | list[str] | None = None) -> pd.DataFrame:
    """Recommend detector configurations for the table ``X``, best first, with predicted AUROC, cost and reason.

    Only the landmarkers of the meta-features are fitted; no detector of the zoo is trained.

    Parameters
    ----------
    X : pandas.DataFrame or array-like of shape (n_rows, n_columns)
        At least 10 rows. A DataFrame is preprocessed as by ``metaad select`` (text columns one-hot encoded,
        numbers standardized, missing values imputed with a warning); an array must be numeric and finite.
    top : int, default 5
        How many recommendations.
    knowledge : path, optional
        A knowledge base folder to learn from instead of the shipped one (and the user's additions).
    knowledge_dir : path, optional
        The user's knowledge folder (see :func:`metaad.meta.knowledge.user_knowledge_dir`).
    families : sequence of str, optional
        Recommend only these detector families.

    Returns
    -------
    pandas.DataFrame
        Columns ``rank``, ``config_id``, ``family``, ``params`` (dict), ``predicted_auroc``,
        ``predicted_seconds`` (fit + score on a table of this size) and ``reason``.

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
    from metaad.meta import selection as steps

    if not isinstance(top, (int, np.integer)) or isinstance(top, bool) or top < 1:
        raise ParameterError(f"top must be a positive integer, got {top!r}")
    if isinstance(X, pd.DataFrame):  # mixed types and gaps: preprocessed as `metaad select` does
        from metaad.data.preprocessing import TabularPreprocessor

        X = TabularPreprocessor(missing="impute").fit_transform(X)
    features = steps.describe(X)
    selector = steps.trained_selector(knowledge, user_dir=knowledge_dir)
    ranking = steps.rank_configurations(features, selector, families=families, n_train=int(np.shape(X)[0]))
    best = ranking.head(int(top)).copy()
    similar = steps.similar_tasks(selector, features, best["config_id"].tolist())
    best["params"] = [json.loads(p) for p in best["params_json"]]
    best["reason"] = [reason_for(c, int(r), similar, selector) for c, r in zip(best["config_id"], best["rank"])]
    best["predicted_auroc"] = best["predicted_auroc"].round(4)
    best["predicted_seconds"] = best["predicted_seconds"].round(3)
    return best[["rank", "config_id", "family", "params", "predicted_auroc", "predicted_seconds", "reason"]].reset_index(drop=True)


__all__ = ["reason_for", "select"]
