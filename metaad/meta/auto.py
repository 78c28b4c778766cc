"""``auto``: a detector that chooses its own configuration from the knowledge base, and says why.

``fit(X)`` computes the meta-features of ``X``, ranks the zoo with the selector (:mod:`metaad.meta.recommend`)
and fits the best configuration (or a rank-ensemble of the best ``ensemble_size``). With ``fit(X, y)``, ``y``
marking some known anomalies (1; 0 = unknown), the top ``n_candidates`` are fitted and re-ranked by how well
they find the known anomalies, blended with the selector's prediction (:mod:`metaad.meta.labels_evidence`).
With ``fit(X, X_val=..., y_val=...)``, a labelled validation set (1 = anomaly, 0 = normal), the candidates are
fitted on ``X`` and re-ranked by their AUROC on the validation set instead.

Saved safely like every detector: the chosen detectors' own fitted state plus the selection as JSON.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np

from metaad.detectors._params import make_init
from metaad.detectors.base import BaseDetector
from metaad.detectors.registry import get_detector_info, register
from metaad.exceptions import DataError, ModelFileError, ParameterError

logger = logging.getLogger(__name__)

_DEFAULTS: dict[str, Any] = {
    "n_candidates": None,
    "max_per_family": 2,
    "ensemble_size": 1,
    "prior_strength": 20.0,
    "families": None,
    "knowledge_dir": None,
    "contamination": 0.1,
    "threshold": None,
    "random_state": None,
}


def candidate_pool(ranking: Any, n: int, max_per_family: int = 0) -> Any:
    """The first ``n`` rows of ``ranking`` taking at most ``max_per_family`` of one family (0 = no limit).

    Examples
    --------
    >>> import pandas as pd
    >>> ranking = pd.DataFrame({"config_id": list("abcde"), "family": ["knn", "knn", "knn", "lof", "pca"]})
    >>> candidate_pool(ranking, 3, max_per_family=2)["config_id"].tolist()
    ['a', 'b', 'd']
    """
    if not max_per_family:
        return ranking.head(n)
    picked, counts = [], {}
    for i, family in enumerate(ranking["family"]):
        if counts.get(family, 0) < max_per_family:
            picked.append(i)
            counts[family] = counts.get(family, 0) + 1
        if len(picked) == n:
            break
    return ranking.iloc[picked]


@register("auto", family="meta",
          description="Chooses its configuration from the knowledge base by the data's meta-features (and a few labels, if given).")
class AutoDetector(BaseDetector):
    """A detector that selects its configuration from the knowledge base, with an explanation.

    Parameters
    ----------
    n_candidates : int or None, default None
        Top configurations kept in ``candidates_``; with labels, the ones fitted and re-ranked. None: 5
        without labels, 20 with labels or a validation set (more candidates let the evidence find a better one).
    max_per_family : int, default 2
        At most this many candidates of one family (0 = no limit): label evidence can only tell apart
        candidates that differ.
    ensemble_size : int, default 1
        Fit the best ``ensemble_size`` configurations and average their rank-normalized scores (1 = the best only).
    prior_strength : float, default 20.0
        How many labelled anomalies the selector's prediction is worth when blended with label evidence.
        The defaults with labels (20 candidates, at most 2 per family, strength 20) did best across 5 and 20
        labels in the simulation of benchmarks/results/selection.md.
    families : tuple of str, optional
        Choose only among these detector families.
    knowledge_dir : str, optional
        The user's knowledge folder (``metaad knowledge add``); default ``~/.metaad/knowledge``.
    contamination, threshold, random_state
        See :class:`metaad.detectors.base.BaseDetector`; passed on to the chosen detector(s).

    Attributes
    ----------
    selected_ : dict
        ``config_id``, ``family``, ``params`` and ``predicted_auroc`` of the chosen configuration.
    candidates_ : list of dict
        The top candidates, best first, with ``predicted_auroc`` (and ``label_auroc``, ``posterior`` with labels).
    explanation_ : dict
        ``similar_datasets`` (nearest in meta-feature space, with how the candidates did there) and ``summary``.
    detectors_ : list of BaseDetector
        The fitted chosen detector(s).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.RandomState(0).normal(size=(300, 5))
    >>> det = AutoDetector(random_state=0).fit(X)
    >>> det.selected_["config_id"].startswith(det.selected_["family"] + "-")
    True
    >>> len(det.candidates_), len(det.explanation_["similar_datasets"])
    (5, 3)
    >>> html = det.explanation_html()
    >>> "Most similar datasets" in html
    True
    """

    __init__ = make_init(_DEFAULTS, "AutoDetector")
    _uses_labels = True

    def fit(self, X: Any, y: Any = None, *, X_val: Any = None, y_val: Any = None) -> AutoDetector:
        """Select, fit and explain; ``y`` (some known anomalies) or ``X_val, y_val`` re-rank the candidates.

        Parameters
        ----------
        X : array-like or DataFrame
            The data to fit on (unlabeled).
        y : array-like of {0, 1}, optional
            1 marks rows of ``X`` known to be anomalies; 0 means unknown.
        X_val, y_val : array-like, optional
            A labelled validation set (``y_val``: 1 = anomaly, 0 = normal, both present). The candidates are
            fitted on ``X`` and judged by their AUROC on it; its anomaly count weighs the evidence.

        Returns
        -------
        self

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(300, 5))
        >>> X_val = np.vstack([rng.normal(size=(90, 5)), rng.normal(4, 1, size=(10, 5))])
        >>> y_val = np.r_[np.zeros(90), np.ones(10)]
        >>> det = AutoDetector(random_state=0).fit(X, X_val=X_val, y_val=y_val)
        >>> det.explanation_["n_labels"], det.explanation_["evidence"]
        (10, 'validation')
        >>> all("label_auroc" in c for c in det.candidates_)
        True
        """
        if (X_val is None) != (y_val is None):
            raise ParameterError("auto: give both X_val and y_val (a labelled validation set), or neither")
        if X_val is not None and y is not None and np.any(np.asarray(y) == 1):
            raise ParameterError("auto: give known anomalies in y or a labelled validation set, not both")
        self._validation = None if X_val is None else (X_val, y_val)
        try:
            return super().fit(X, y)
        finally:
            del self._validation

    def _validation_set(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The validated ``(X_val, y_val)`` given to :meth:`fit`, or None."""
        given = getattr(self, "_validation", None)
        if given is None:
            return None
        X_val = self._validate_input(given[0], reset=False)
        y_val = np.asarray(given[1]).ravel()
        if len(y_val) != X_val.shape[0]:
            raise DataError(f"y_val has {len(y_val)} labels for {X_val.shape[0]} validation rows")
        bad = ~np.isin(y_val, (0, 1))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"y_val must be 0 (normal) or 1 (anomaly); row {row} holds {y_val[row].item()!r}")
        y_val = y_val.astype(int)
        if y_val.min() == y_val.max():
            raise DataError("y_val must hold both normal rows (0) and anomalies (1) to judge the candidates")
        return X_val, y_val

    def _check_params(self) -> None:
        if not isinstance(self.max_per_family, (int, np.integer)) or isinstance(self.max_per_family, bool) \
                or self.max_per_family < 0:
            raise ParameterError(f"auto: max_per_family must be an integer >= 0, got {self.max_per_family!r}")
        for name in ("n_candidates", "ensemble_size"):
            value = getattr(self, name)
            if value is None and name == "n_candidates":
                continue
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ParameterError(f"auto: {name} must be a positive integer, got {value!r}")
        if self.n_candidates is not None and self.ensemble_size > self.n_candidates:
            raise ParameterError(f"auto: ensemble_size={self.ensemble_size} exceeds n_candidates={self.n_candidates}")
        if not isinstance(self.prior_strength, (int, float)) or self.prior_strength < 0:
            raise ParameterError(f"auto: prior_strength must be >= 0, got {self.prior_strength!r}")
        if self.families is not None and (isinstance(self.families, str) or not all(isinstance(f, str) for f in self.families)):
            raise ParameterError(f"auto: families must be a tuple of detector names, got {self.families!r}")

    # ------------------------------------------------------------------------------------------- fit
    def _member_params(self) -> dict[str, Any]:
        return {"contamination": self.contamination, "threshold": self.threshold, "random_state": self.random_state}

    def _build(self, candidate: dict[str, Any]) -> BaseDetector:
        from metaad.meta.zoo import Configuration

        accepted = get_detector_info(candidate["family"]).parameters
        overrides = {k: v for k, v in self._member_params().items() if k in accepted}
        return Configuration(candidate["family"], candidate["params"]).make_detector(**overrides)

    def _try_fit(self, candidate: dict[str, Any], X: np.ndarray) -> BaseDetector | None:
        try:
            return self._build(candidate).fit(X)
        except (DataError, ParameterError) as exc:
            logger.info("auto: %s cannot be fitted here (%s); trying the next candidate", candidate["config_id"], exc)
            return None

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        from metaad.meta.labels_evidence import blend_with_evidence, label_evidence
        from metaad.meta.landmarks import selection_features
        from metaad.meta.recommend import (
            INCLUDE_BASE_FEATURES,
            N_SIMILAR,
            rank_configurations,
            similar_datasets,
        )

        validation = self._validation_set()
        n_labels = 0 if y is None else int(np.sum(np.asarray(y) == 1))
        if y is not None and len(y) != X.shape[0]:
            raise DataError(f"y has {len(y)} labels for {X.shape[0]} rows")
        if validation is not None:
            n_labels = int(validation[1].sum())
        features = selection_features(X, include_base=INCLUDE_BASE_FEATURES)
        selector, ranking = rank_configurations(features, knowledge_dir=self.knowledge_dir, families=self.families)
        n_candidates = self.n_candidates if self.n_candidates is not None else (20 if n_labels else 5)
        pool = candidate_pool(ranking, max(int(n_candidates), int(self.ensemble_size)), int(self.max_per_family))
        candidates = [
            {"config_id": r.config_id, "family": r.family, "params": json.loads(r.params_json),
             "predicted_auroc": round(float(r.predicted_auroc), 4), "rank": int(r.rank)}
            for r in pool.itertuples()
        ]
        fitted: dict[str, BaseDetector | None] = {}
        if n_labels > 0:
            observed = {}
            for cand in candidates:
                fitted[cand["config_id"]] = det = self._try_fit(cand, X)
                if det is None:
                    evidence = {"auroc": float("nan")}
                elif validation is not None:
                    evidence = label_evidence(det.decision_function(validation[0]), validation[1])
                else:
                    evidence = label_evidence(det.decision_scores_, y)
                cand["label_auroc"] = None if not np.isfinite(evidence["auroc"]) else round(evidence["auroc"], 4)
                observed[cand["config_id"]] = evidence["auroc"]
            posterior = blend_with_evidence({c["config_id"]: c["predicted_auroc"] for c in candidates}, observed,
                                            n_labels=n_labels, prior_strength=float(self.prior_strength))
            for cand in candidates:
                cand["posterior"] = posterior[cand["config_id"]] if fitted[cand["config_id"]] is not None else -1.0
            candidates.sort(key=lambda c: (-c["posterior"], c["rank"]))
        members, chosen = [], []
        for cand in candidates + [dict(r) for r in self._fallbacks(ranking, candidates)]:
            det = fitted[cand["config_id"]] if cand["config_id"] in fitted else self._try_fit(cand, X)
            if det is not None:
                members.append(det)
                chosen.append(cand)
            if len(members) == self.ensemble_size:
                break
        if not members:
            raise DataError(f"none of the {len(ranking)} configurations could be fitted on data of shape {X.shape}")
        self.detectors_ = members
        self.candidates_ = candidates
        self.selected_ = {k: chosen[0][k] for k in ("config_id", "family", "params", "predicted_auroc")}
        self.ensemble_ = [c["config_id"] for c in chosen]
        similar = similar_datasets(selector, features, [c["config_id"] for c in candidates], k=N_SIMILAR)
        self.explanation_ = {
            "n_labels": n_labels,
            "evidence": "validation" if validation is not None else ("labels" if n_labels else "none"),
            "n_configurations": len(ranking),
            "n_knowledge_datasets": len(selector.datasets_),
            "similar_datasets": similar,
            "summary": self._summary(similar, n_labels, len(selector.datasets_), validation is not None),
        }
        self._train_sorted_ = [np.sort(d.decision_scores_) for d in members]
        self.decision_scores_ = self._combine([d.decision_scores_ for d in members])

    @staticmethod
    def _fallbacks(ranking: Any, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen = {c["config_id"] for c in candidates}
        rest = ranking[~ranking["config_id"].isin(seen)].head(20)
        return [{"config_id": r.config_id, "family": r.family, "params": json.loads(r.params_json),
                 "predicted_auroc": round(float(r.predicted_auroc), 4), "rank": int(r.rank)} for r in rest.itertuples()]

    def _summary(self, similar: list[dict[str, Any]], n_labels: int, n_datasets: int, validation: bool = False) -> str:
        sel = self.selected_
        where = ", ".join(
            f"{s['dataset']} ({s['auroc'][sel['config_id']]:.3f}, best there {s['best_auroc']:.3f})"
            for s in similar if s["auroc"].get(sel["config_id"]) is not None
        )
        text = (f"{sel['config_id']} ({sel['family']}) was chosen among the configurations benchmarked on "
                f"{n_datasets} datasets; predicted AUROC {sel['predicted_auroc']:.3f}.")
        if where:
            text += f" On the most similar datasets it scored: {where}."
        if n_labels and validation:
            text += (f" A labelled validation set ({n_labels} anomalies) re-ranked the top {len(self.candidates_)} "
                     "candidates.")
        elif n_labels:
            text += f" {n_labels} known anomalies re-ranked the top {len(self.candidates_)} candidates."
        return text

    # ------------------------------------------------------------------------------------------- scores
    def _combine(self, member_scores: list[np.ndarray]) -> np.ndarray:
        if len(member_scores) == 1:
            return np.asarray(member_scores[0], dtype=np.float64)
        ranks = [np.searchsorted(ref, s, side="right") / len(ref) for ref, s in zip(self._train_sorted_, member_scores)]
        # ties broken by the best member's raw score, scaled well below one rank step
        best = np.asarray(member_scores[0], dtype=np.float64)
        spread = np.ptp(self._train_sorted_[0]) or 1.0
        return np.mean(ranks, axis=0) + 1e-6 * (best - self._train_sorted_[0][0]) / spread

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._combine([d.decision_function(X) for d in self.detectors_])

    # ------------------------------------------------------------------------------------------- reports
    def explanation_html(self) -> str:
        """An HTML fragment explaining the choice, for ``write_report(sections=[("Why this detector", html)])``."""
        from metaad.evaluation._html import escape, table

        self._check_fitted()
        labelled = self.explanation_["n_labels"] > 0
        header = ["rank", "configuration", "family", "parameters", "predicted AUROC"]
        evidence = "AUROC on the validation set" if self.explanation_.get("evidence") == "validation" else "AUROC on known anomalies"
        header += [evidence, "blended"] if labelled else []
        rows = []
        for i, c in enumerate(self.candidates_, 1):
            row = [i, c["config_id"], c["family"], json.dumps(c["params"], sort_keys=True), c["predicted_auroc"]]
            row += [c.get("label_auroc"), c.get("posterior")] if labelled else []
            rows.append(row)
        ids = [c["config_id"] for c in self.candidates_[:3]]
        sim_rows = [[s["dataset"], s["distance"], *[s["auroc"].get(i) for i in ids], s["best_config"], s["best_auroc"]]
                    for s in self.explanation_["similar_datasets"]]
        parts = [
            f"<p>{escape(self.explanation_['summary'])}</p>",
            "<h3>Top candidates</h3>", table(header, rows),
            "<h3>Most similar datasets in the knowledge base</h3>",
            ("<p>Distance: root-mean-square difference of the standardized meta-features. AUROC: test AUROC "
             "recorded in the knowledge base.</p>"),
            table(["dataset", "distance", *[f"AUROC of {i}" for i in ids], "best configuration", "its AUROC"], sim_rows),
        ]
        if len(self.ensemble_) > 1:
            parts.insert(1, f"<p>Scores: mean rank of the ensemble {escape(', '.join(self.ensemble_))}.</p>")
        return "\n".join(parts)

    # ------------------------------------------------------------------------------------------- persistence
    def _get_fitted_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        from metaad.persistence import _json_safe, _params_for_file

        arrays: dict[str, np.ndarray] = {"decision_scores": self.decision_scores_}
        members = []
        for i, det in enumerate(self.detectors_):
            inner_arrays, inner_meta = det._get_fitted_state()
            arrays.update({f"member{i}.{k}": v for k, v in inner_arrays.items()})
            members.append({"detector": det.registry_name, "params": _params_for_file(det.get_params(deep=False)),
                            "fitted": _json_safe(inner_meta)})
        meta = {"members": members, "selected": self.selected_, "candidates": self.candidates_,
                "explanation": self.explanation_, "ensemble": self.ensemble_, "threshold": self.threshold_,
                "n_features_in": self.n_features_in_, "feature_shape": list(self.feature_shape_)}
        return arrays, _json_safe(meta)

    def _set_fitted_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        from metaad.persistence import _params_from_file

        if not meta.get("members"):
            raise ModelFileError("auto: the saved model lists no members (fitted.members is empty)")
        try:
            detectors = []
            for i, member in enumerate(meta["members"]):
                prefix = f"member{i}."
                det = get_detector_info(member["detector"]).cls(**_params_from_file(member["params"]))
                det._set_fitted_state({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)},
                                      member["fitted"])
                detectors.append(det)
            self.detectors_ = detectors
            self._train_sorted_ = [np.sort(d.decision_scores_) for d in detectors]
            self.selected_, self.candidates_ = meta["selected"], meta["candidates"]
            self.explanation_, self.ensemble_ = meta["explanation"], meta["ensemble"]
            self.n_features_in_ = int(meta["n_features_in"])
            self.feature_shape_ = tuple(int(s) for s in meta["feature_shape"])
            self.decision_scores_ = np.asarray(arrays["decision_scores"], dtype=np.float64)
            self.threshold_ = float(meta["threshold"])
        except KeyError as exc:
            raise ModelFileError(f"auto: the saved model lacks {exc}; it was not written by this version") from None
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)


__all__ = ["AutoDetector", "candidate_pool"]
