"""A few known anomalies as evidence: re-rank the selector's top candidates by how well they find them.

With ``y`` marking some known anomalies (1) and everything else unknown (0), each candidate is fitted on the
data without labels and its training scores are compared with the labels: the AUROC of the known anomalies
against the rest. The rest still hides unknown anomalies, so this AUROC underestimates the true one a little,
by about the same amount for every candidate, which is all a ranking needs.

The evidence is blended with the selector's prediction like a posterior mean, each weighted by how much it
is worth: ``(prior_strength * predicted + n_labels * observed) / (prior_strength + n_labels)``. With one label
the prior dominates; with twenty, the labels do.

Examples
--------
>>> blend_with_evidence({"a": 0.80, "b": 0.75}, {"a": 0.60, "b": 0.95}, n_labels=20, prior_strength=10)
{'a': 0.6667, 'b': 0.8833}
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def label_evidence(scores: np.ndarray, known: np.ndarray) -> dict[str, float]:
    """AUROC and average precision of ``scores`` for the known anomalies (``known == 1``) against the rest.

    Returns NaN for both when ``known`` has a single class.

    Examples
    --------
    >>> label_evidence(np.array([0.1, 0.2, 0.9, 0.3]), np.array([0, 0, 1, 0]))
    {'auroc': 1.0, 'average_precision': 1.0}
    """
    known = np.asarray(known).astype(int).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if known.min() == known.max():
        return {"auroc": float("nan"), "average_precision": float("nan")}
    return {"auroc": float(roc_auc_score(known, scores)), "average_precision": float(average_precision_score(known, scores))}


def blend_with_evidence(predicted: Mapping[str, float], observed: Mapping[str, float], *, n_labels: int,
                        prior_strength: float = 10.0) -> dict[str, float]:
    """Posterior-mean blend of the predicted and the observed AUROC of each candidate (rounded to 4 places).

    A candidate without evidence (NaN) keeps its prediction.
    """
    n = max(int(n_labels), 0)
    out = {}
    for key, prior in predicted.items():
        seen = observed.get(key, float("nan"))
        if n == 0 or not np.isfinite(seen):
            out[key] = round(float(prior), 4)
        else:
            out[key] = round(float((prior_strength * prior + n * seen) / (prior_strength + n)), 4)
    return out


__all__ = ["blend_with_evidence", "label_evidence"]
