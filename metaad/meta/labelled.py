"""With known anomalies, ``auto`` also weighs detectors that learn from them, not only re-ranks unsupervised ones.

``auto.fit(X, y)`` judges its unsupervised candidates by the AUROC of the known anomalies against the other rows
(:func:`metaad.meta.evidence.label_evidence`; they never saw the labels, so their training scores are fair
evidence). :func:`add_semi_supervised` then puts two detectors that *learn* from the labels beside them:

* ``stacked`` (:mod:`metaad.detectors.stacked`) whose members are the unsupervised candidates that the labels
  judged best (up to :data:`N_CHOSEN_MEMBERS` classical ones), beside its default members;
* ``devnet`` at its defaults. (``deep_sad`` is not weighed: 0.14 mean AUROC behind XGBOD at both k on the
  12-dataset benchmark, it was never chosen and cost three fits.)

A detector that learnt the labels would find them again in its training scores whatever it is worth, so these
are judged **cross-fitted**: the rows are split into :data:`N_FOLDS` folds stratified on the labels, each fold is
scored by the detector fitted on the others (with their labels), and the evidence is the AUROC of the fold's
known anomalies against its other rows, averaged over the folds with at least one known anomaly weighted by their
count. The stacked detector is fitted once and refits per fold only what learns from the labels
(:meth:`~metaad.detectors.stacked.StackedDetector.cross_fitted_auroc`; its members never see them). The
knowledge base holds no semi-supervised results (recording them per dataset at 5 and 20 labels was left for
later), so their prior is the selector's prediction for the best unsupervised candidate (``stacked``: its
members' consensus is part of its score) or the mean prediction over the candidates (``devnet``), blended with
the evidence as for every candidate (:func:`metaad.meta.evidence.blend_with_evidence`).

**The stacked detector is kept unless another candidate leads it by** :data:`STACKED_MARGIN` (:func:`prefer_stacked`):
``devnet`` by its cross-fitted label AUROC, an unsupervised candidate by its blend. With five labels the folds
hold one or two known anomalies each, so a small lead is noise, and on the 12-dataset benchmark the plain
best-blend rule chose worse than ``stacked`` alone (0.899 against 0.900 at k = 5, 0.929 against 0.931 at k = 20:
it picked an unsupervised candidate in 21 of 68 runs). DevNet is judged on its own evidence, not its borrowed
prior: on vertebral its cross-fitted label AUROC led the stacked one's by 0.12 (k = 5) and 0.06 (k = 20), and its
test AUROC by 0.33 and 0.10, but the blend with the priors ranked it below. The margin (0.05) was not tuned.
When the stacked detector's cross-fitted label AUROC is 0.95 or more no rival can lead it by the margin, so the
rivals are not judged (DevNet's three fits were most of ``auto``'s time on small tables).
A semi-supervised winner is refitted on the judged rows with every label (the stacked one is already).

Without labels (or with a labelled validation set instead) nothing here runs.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from metaad.exceptions import DataError, ParameterError

#: The semi-supervised detectors ``auto`` weighs when it is given known anomalies.
SEMI_SUPERVISED: tuple[str, ...] = ("stacked", "devnet")
#: How much higher another candidate's blended label evidence must be for ``auto`` to choose it over the stacked
#: detector (see the module docstring).
STACKED_MARGIN = 0.05
#: Folds of the cross-fitted label evidence (three keep one or two of five known anomalies out per fold).
N_FOLDS = 3
#: The best-judged unsupervised candidates of a classical family that join the stacked detector's members.
N_CHOSEN_MEMBERS = 4

logger = logging.getLogger(__name__)


def stacked_members(ranked: list[dict[str, Any]], n_chosen: int = N_CHOSEN_MEMBERS) -> tuple[str, ...]:
    """Member specs of the stacked candidate: the best-ranked classical candidates, then the default members.

    Examples
    --------
    >>> ranked = [{"family": "autoencoder", "params": {}}, {"family": "knn", "params": {"n_neighbors": 7}},
    ...           {"family": "iforest", "params": {}}]
    >>> stacked_members(ranked, 2)[:3]
    ('knn:{"n_neighbors": 7}', 'iforest', 'iforest:{"max_features": 0.5}')
    """
    from metaad.detectors.registry import get_detector_info
    from metaad.detectors.stacked import DEFAULT_MEMBERS, member_spec, parse_member

    chosen = [member_spec(c["family"], c["params"]) for c in ranked
              if get_detector_info(c["family"]).family == "classical"][:n_chosen]
    defaults = [spec for spec in DEFAULT_MEMBERS if member_spec(*parse_member(spec)) not in chosen]
    return tuple(dict.fromkeys(chosen + defaults))


def semi_supervised_candidates(ranked: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Candidate dicts (as :func:`metaad.meta.selection.candidates_from`) of the semi-supervised detectors, priors
    from the unsupervised candidates ``ranked`` best first (see the module docstring)."""
    predicted = [c["predicted_auroc"] for c in ranked]
    best, mean = (float(np.max(predicted)), float(np.mean(predicted))) if predicted else (0.5, 0.5)
    rank = max((c["rank"] for c in ranked), default=0)
    out = []
    for i, family in enumerate(SEMI_SUPERVISED, 1):
        params = {"members": stacked_members(ranked)} if family == "stacked" else {}
        out.append({"config_id": f"{family}-labelled", "family": family, "params": params,
                    "predicted_auroc": round(best if family == "stacked" else mean, 4), "predicted_seconds": None,
                    "prior": 0.0, "rank": rank + i, "semi_supervised": True})
    return out


def cross_fitted_label_auroc(make: Any, X: np.ndarray, known: np.ndarray, *, n_folds: int = N_FOLDS,
                             random_state: int = 0) -> float:
    """AUROC of held-out known anomalies against the held-out other rows, for a detector fitted with the labels of
    the other folds (``make()`` builds a fresh one); mean over folds weighted by their known anomalies.

    Examples
    --------
    >>> import metaad
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(size=(200, 3)), rng.normal(4, 1, size=(9, 3))])
    >>> known = np.r_[np.zeros(200), np.ones(9)].astype(int)
    >>> make = lambda: metaad.make_detector("stacked", members=("knn",), random_state=0)
    >>> cross_fitted_label_auroc(make, X, known) > 0.9
    True
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    n_known = int(known.sum())
    folds = min(int(n_folds), n_known)
    if folds < 2:
        return float("nan")
    total, weight = 0.0, 0
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=random_state).split(X, known):
        if known[train].sum() == 0 or known[test].sum() == 0:
            continue
        scores = make().fit(X[train], known[train]).decision_function(X[test])
        total += roc_auc_score(known[test], scores) * int(known[test].sum())
        weight += int(known[test].sum())
    return total / weight if weight else float("nan")


def add_semi_supervised(decision: Any, fitted: dict[str, Any], X: np.ndarray, known: np.ndarray, rows: np.ndarray,
                        overrides: dict[str, Any], *, n_labels: int, prior_strength: float, random_state: int,
                        log: logging.Logger | None = None) -> Any:
    """``auto``'s label decision with the semi-supervised candidates judged beside the unsupervised ones.

    The stacked candidate is fitted once and judged by :meth:`~metaad.detectors.stacked.StackedDetector.cross_fitted_auroc`
    (its members never see the labels, so only its classifiers are refitted per fold); ``devnet`` by
    :func:`cross_fitted_label_auroc`. The stacked candidate wins unless another's blended evidence beats its own
    by :data:`STACKED_MARGIN` (see the module docstring).

    Parameters
    ----------
    decision : metaad.meta.selection.Decision
        The decision among the unsupervised candidates (each with ``label_auroc`` and ``posterior``).
    fitted : dict
        ``auto``'s fitted candidates by config id; a semi-supervised winner is added to it, fitted on ``X[rows]``
        with ``known[rows]``.
    X, known, rows
        The table, its known anomalies (1) and the rows the candidates were judged on.
    overrides : dict
        ``contamination``, ``threshold``, ``random_state`` for the detectors.

    Returns
    -------
    metaad.meta.selection.Decision
        The chosen candidate, and every candidate ranked by blended evidence.
    """
    from metaad.meta import selection as steps
    from metaad.meta.evidence import blend_with_evidence

    log = log or logger
    X_rows, known_rows = X[rows], known[rows]
    unsupervised = [c for c in decision.ranked if c.get("posterior") is not None and c["posterior"] >= 0]
    semi = semi_supervised_candidates(unsupervised)
    observed, judged = {}, {}
    for cand in semi:
        best = observed.get("stacked-labelled", float("nan"))
        if cand["family"] != "stacked" and np.isfinite(best) and best >= 1.0 - STACKED_MARGIN:
            # no rival can lead the stacked detector by the margin: not worth its cross-fitted fits
            log.info("auto: %s not judged (the stacked detector's cross-fitted label AUROC is %.3f)", cand["config_id"], best)
            cand["label_auroc"], observed[cand["config_id"]] = None, float("nan")
            continue
        try:
            if cand["family"] == "stacked":  # fitted once; the folds refit only what learns from the labels
                judged[cand["config_id"]] = det = steps.build_detector(cand, overrides).fit(X_rows, known_rows)
                auroc = det.cross_fitted_auroc(N_FOLDS, random_state=random_state)
            else:
                def make(cand: dict[str, Any] = cand) -> Any:
                    return steps.build_detector(cand, overrides)
                auroc = cross_fitted_label_auroc(make, X_rows, known_rows, random_state=random_state)
        except (DataError, ParameterError) as exc:
            log.info("auto: %s cannot be judged here (%s)", cand["config_id"], exc)
            auroc = float("nan")
        cand["label_auroc"] = None if not np.isfinite(auroc) else round(auroc, 4)
        observed[cand["config_id"]] = auroc
    posterior = blend_with_evidence({c["config_id"]: c["predicted_auroc"] for c in semi}, observed,
                                    n_labels=n_labels, prior_strength=prior_strength)
    for cand in semi:
        cand["posterior"] = posterior[cand["config_id"]] if np.isfinite(observed[cand["config_id"]]) else -1.0
    ranked = sorted(decision.ranked + semi, key=lambda c: (-(c["posterior"] if c["posterior"] is not None else -1.0), c["rank"]))
    order = prefer_stacked(ranked)
    for cand in order:
        if cand.get("semi_supervised") and cand["posterior"] >= 0 and cand["config_id"] not in fitted:
            try:
                fitted[cand["config_id"]] = (judged[cand["config_id"]] if cand["config_id"] in judged
                                             else steps.build_detector(cand, overrides).fit(X_rows, known_rows))
            except (DataError, ParameterError) as exc:
                log.info("auto: %s cannot be fitted here (%s)", cand["config_id"], exc)
                cand["posterior"] = -1.0
                continue
        if cand["config_id"] in fitted or not cand.get("semi_supervised"):
            break
    chosen = cand
    reason = decision.reason + (f"; {len(semi)} semi-supervised candidates judged by {N_FOLDS}-fold cross-fitted labels"
                                f", stacked kept unless another leads it by {STACKED_MARGIN}")
    ranked = [chosen] + [c for c in order if c is not chosen]
    return steps.Decision([chosen], decision.confidence, reason, ranked)


def prefer_stacked(ranked: list[dict[str, Any]], margin: float | None = None) -> list[dict[str, Any]]:
    """``ranked`` (best blended evidence first) with the stacked candidate moved to the front unless another
    leads it by more than ``margin`` (default :data:`STACKED_MARGIN`); then the one that leads it most goes first.

    A semi-supervised rival leads by its cross-fitted label AUROC (``label_auroc``) over the stacked one's: both
    are judged the same way, and their priors are borrowed, not learnt. An unsupervised candidate leads by its
    blended ``posterior``: its label AUROC is the best of many noisy ones, which the prior shrinks.

    Examples
    --------
    >>> ranked = [{"config_id": "knn", "posterior": 0.90, "label_auroc": 0.95},
    ...           {"config_id": "stacked-labelled", "posterior": 0.88, "label_auroc": 0.90, "semi_supervised": True},
    ...           {"config_id": "devnet-labelled", "posterior": 0.80, "label_auroc": 0.94, "semi_supervised": True}]
    >>> [c["config_id"] for c in prefer_stacked(ranked)]
    ['stacked-labelled', 'knn', 'devnet-labelled']
    >>> ranked[2]["label_auroc"] = 0.97
    >>> [c["config_id"] for c in prefer_stacked(ranked)]
    ['devnet-labelled', 'knn', 'stacked-labelled']
    """
    margin = STACKED_MARGIN if margin is None else float(margin)
    stacked = [c for c in ranked if c["config_id"] == "stacked-labelled" and (c.get("posterior") or -1.0) >= 0]
    if not stacked:
        return list(ranked)
    base = stacked[0]
    leads = []
    for cand in ranked:
        if cand is base or cand.get("posterior") is None or cand["posterior"] < 0:
            continue
        if cand.get("semi_supervised"):
            lead = (cand.get("label_auroc") or 0.0) - (base.get("label_auroc") or 0.0)
        else:
            lead = cand["posterior"] - base["posterior"]
        if lead > margin:
            leads.append((lead, cand))
    first = max(leads, key=lambda pair: pair[0])[1] if leads else base
    return [first] + [c for c in ranked if c is not first]


__all__ = ["N_CHOSEN_MEMBERS", "N_FOLDS", "SEMI_SUPERVISED", "STACKED_MARGIN", "prefer_stacked", "add_semi_supervised", "cross_fitted_label_auroc",
           "semi_supervised_candidates", "stacked_members"]
