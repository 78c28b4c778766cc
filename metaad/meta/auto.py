"""``auto``: a detector that chooses its own configuration from the knowledge base, and says why.

``fit(X)`` composes the steps of :mod:`metaad.meta.selection`: the meta-features of ``X``, the selector's ranking
of the zoo for a table of this size (slow configurations must earn their cost), a pool of the best candidates
(at most ``max_per_family`` per family, and Isolation Forest at its defaults as a hedge), evidence from ``X``
itself (synthetic anomalies of ADBench's four types injected into a held-out part, :mod:`metaad.meta.synthetic`),
and the decision: the best candidate when it clearly leads, else a rank-ensemble of Isolation Forest at its
defaults and the best candidates of other families (``ensemble_size`` members in all). On tables of more than
20,000 rows the chosen model must score at least ``min_score_rate`` rows per second (by a deterministic cost
estimate), which keeps kNN and LOF with thousands of reference rows off them; there the evidence's fits (on
``max_fit_rows`` rows) are the final members, not refitted.
With ``fit(X, y)``, ``y`` marking some known anomalies (1; 0 = unknown), the top ``n_candidates`` are judged on
a subsample that keeps every known anomaly and re-ranked by how well they find them, blended with the
selector's prediction (:mod:`metaad.meta.evidence`). With
``fit(X, X_val=..., y_val=...)``, a labelled validation set (1 = anomaly, 0 = normal), the candidates are
judged by their AUROC on it instead. Whatever the evidence, the chosen detector(s) are fitted on at most
``max_fit_rows`` rows drawn at random (as the knowledge base measured them) and score every row.

Saved safely like every detector: the chosen detectors' own fitted state plus the selection as JSON.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np

from metaad._constraints import Check, Interval, Options
from metaad.detectors._params import make_init
from metaad.detectors.base import BaseDetector
from metaad.detectors.registry import get_detector_info, register
from metaad.exceptions import DataError, EpochsCutWarning, ModelFileError, ParameterError

logger = logging.getLogger(__name__)

_DEFAULTS: dict[str, Any] = {
    "n_candidates": None,
    "max_per_family": 2,
    "evidence": "synthetic",
    "evidence_weight": 0.5,
    "hedge_margin": 0.05,
    "ensemble_size": 3,
    "max_fit_rows": 5000,
    "min_score_rate": 50_000,
    "prior_strength": 20.0,
    "families": None,
    "knowledge": None,
    "knowledge_dir": None,
    "contamination": 0.1,
    "threshold": None,
    "random_state": None,
}
EVIDENCE: tuple[str, ...] = ("synthetic", "none")
#: Rows the synthetic evidence fits its candidates on (on tables with fewer than ``max_fit_rows`` + the held-out
#: rows), and the held-out real rows it keeps.
SYNTHETIC_FIT_ROWS = 2000
SYNTHETIC_REAL_ROWS = 500


@register("auto", family="meta",
          description="Chooses its configuration from the knowledge base by the data's meta-features, synthetic-anomaly evidence from the data (and a few labels, if given).")
class AutoDetector(BaseDetector):
    """A detector that selects its configuration from the knowledge base, with an explanation.

    Parameters
    ----------
    n_candidates : int or None, default None
        Top configurations judged by evidence. None: 5 without labels, 10 with known anomalies, 20 with a validation
        set.
    max_per_family : int, default 2
        At most this many candidates of one family (0 = no limit): evidence can only tell apart candidates that
        differ.
    evidence : {"synthetic", "none"}, default "synthetic"
        Without labels: judge the candidates on synthetic anomalies injected into a held-out part of ``X``, or
        trust the selector alone.
    evidence_weight : float, default 0.5
        AUROC of prior per unit of synthetic-evidence AUROC above the candidates' mean.
    hedge_margin : float, default 0.05
        The best candidate is chosen alone only when its posterior leads the next by this much; otherwise
        Isolation Forest at its defaults and the best candidates of other families (``ensemble_size`` in all)
        are rank-averaged. The selector's and the
        synthetic evidence's rankings agree only weakly with the true one (Spearman 0.09 and 0.11 within the
        candidates, BENCHMARKS.md section 5), so the ensemble is the usual outcome.
    ensemble_size : int, default 3
        Members of the rank-ensemble when the choice is uncertain (1: always a single detector).
    max_fit_rows : int or None, default 5000
        The chosen detector(s) are fitted on at most this many rows drawn at random (None: all rows) and score
        every row. The knowledge base measures configurations the same way (:data:`metaad.benchmark.protocol.FIT_ROWS`):
        on large tables a sample is much faster and, for neighbour methods, often better (fewer clustered
        anomalies masking each other).
    min_score_rate : float or None, default 50000
        On tables of more than 20,000 rows (:data:`metaad.meta.selection.LARGE_TABLE_ROWS`), where scoring the
        table itself dominates the fit, the chosen detector(s) must score at least this many rows per second on
        one thread, by a deterministic estimate (:func:`metaad.meta.selection.score_cost`): candidates slower than
        that are not considered, and an ensemble takes members only while their summed cost fits. This keeps kNN
        and LOF with thousands of reference rows (about 18,000 rows/s) off large tables. None: no limit.
    prior_strength : float, default 20.0
        How many labelled anomalies the selector's prediction is worth when blended with label evidence.
    families : tuple of str, optional
        Choose only among these detector families.
    knowledge : str, optional
        A knowledge base folder to learn from instead of the shipped one and the user's additions.
    knowledge_dir : str, optional
        The user's knowledge folder (``metaad knowledge add``); default ``$METAAD_KNOWLEDGE_DIR`` or
        ``~/.metaad/knowledge``.
    contamination, threshold, random_state
        See :class:`metaad.detectors.base.BaseDetector`; passed on to the chosen detector(s).

    Attributes
    ----------
    selected_ : dict
        ``config_id``, ``family``, ``params`` and ``predicted_auroc`` of the best chosen configuration.
    candidates_ : list of dict
        The candidates, best first, with ``predicted_auroc``, ``predicted_seconds``, their evidence
        (``synthetic_auroc`` or ``label_auroc``) and ``posterior``.
    ensemble_ : list of str
        The config ids whose rank-averaged scores make the detector's score (one when the choice was clear).
    explanation_ : dict
        ``confidence`` ("high" or "low") and why, ``evidence``, ``similar_datasets`` (nearest knowledge-base
        tasks, with how the candidates did there) and ``summary``.
    detectors_ : list of BaseDetector
        The fitted chosen detector(s).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.RandomState(0).normal(size=(300, 5))
    >>> det = AutoDetector(random_state=0).fit(X)
    >>> det.selected_["config_id"].startswith(det.selected_["family"] + "-")
    True
    >>> det.explanation_["confidence"] in ("high", "low"), len(det.explanation_["similar_datasets"])
    (True, 3)
    >>> "Most similar" in det.explanation_html()
    True
    """

    __init__ = make_init(_DEFAULTS, "AutoDetector")
    _uses_labels = True
    _parameter_constraints: ClassVar[dict[str, Any]] = {
        **BaseDetector._parameter_constraints,
        "n_candidates": [None, Interval(Integral, 1, None)],
        "max_per_family": [Interval(Integral, 0, None)],
        "evidence": [Options(*EVIDENCE)],
        "evidence_weight": [Interval(Real, 0, None)],
        "hedge_margin": [Interval(Real, 0, None)],
        "ensemble_size": [Interval(Integral, 1, None)],
        "max_fit_rows": [None, Interval(Integral, 1, None)],
        "min_score_rate": [None, Interval(Real, 0, None, closed="neither")],
        "prior_strength": [Interval(Real, 0, None)],
        "families": [None, Check("a tuple of detector names",
                                 lambda v: not isinstance(v, str) and all(isinstance(f, str) for f in v))],
        "knowledge": [None, Check("a folder path", lambda v: isinstance(v, (str, os.PathLike)))],
        "knowledge_dir": [None, Check("a folder path", lambda v: isinstance(v, (str, os.PathLike)))],
    }

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        """Cheap settings for the contract suite: two candidates among fast classical families."""
        return {"random_state": 0, "n_candidates": 2, "families": ("ecod", "hbos", "iforest", "knn")}

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
        self._validate_params()
        array = self._validate_input(X, reset=True)
        known = self._validate_labels(y, array.shape[0])
        if X_val is not None and known is not None and known.any():
            raise ParameterError("auto: give known anomalies in y or a labelled validation set, not both")
        validation = None
        if X_val is not None:
            X_valid = self._validate_input(X_val, reset=False)
            validation = (X_valid, _binary_labels(y_val, "y_val", X_valid.shape[0], need_both=True))
        self._select_and_fit(array, known, validation)
        self._set_threshold()
        return self

    # ------------------------------------------------------------------------------------------- fit
    def _member_params(self) -> dict[str, Any]:
        return {"contamination": self.contamination, "threshold": self.threshold, "random_state": self.random_state}

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        self._select_and_fit(X, self._validate_labels(y, X.shape[0]), None)

    def _select_and_fit(self, X: np.ndarray, known: np.ndarray | None,
                        validation: tuple[np.ndarray, np.ndarray] | None) -> None:
        # The zoo's configurations, not the user, ask for their epochs: a step budget cutting them is not news.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EpochsCutWarning)
            self._choose_and_fit(X, known, validation)

    def _choose_and_fit(self, X: np.ndarray, known: np.ndarray | None,
                        validation: tuple[np.ndarray, np.ndarray] | None) -> None:
        from metaad.meta import selection as steps
        from metaad.meta.evidence import synthetic_evidence

        n_labels = int(validation[1].sum()) if validation is not None else (0 if known is None else int(known.sum()))
        flat = X.reshape(X.shape[0], -1)
        features = steps.describe(flat)
        selector = steps.trained_selector(self.knowledge, user_dir=self.knowledge_dir)
        ranking = steps.rank_configurations(features, selector, families=self.families, n_train=X.shape[0])
        n_fit = X.shape[0] if self.max_fit_rows is None else min(X.shape[0], int(self.max_fit_rows))
        max_cost = (1e6 / float(self.min_score_rate)
                    if self.min_score_rate is not None and X.shape[0] > steps.LARGE_TABLE_ROWS else None)
        ranking = steps.fast_enough(ranking, max_cost, n_fit, flat.shape[1])
        # known anomalies: 10 judged (the semi-supervised detectors, meta/labelled.py, are chosen most of the time)
        n_candidates = self.n_candidates if self.n_candidates is not None else (
            (10 if validation is None else 20) if n_labels else 5)
        hedged = not n_labels and self.families is None
        pool = steps.candidate_pool(ranking, int(n_candidates), int(self.max_per_family), hedge=hedged)
        candidates = steps.candidates_from(pool)
        for cand in candidates:
            cand["score_us"] = round(steps.score_cost(cand, n_fit, flat.shape[1]), 2)
        overrides = self._member_params()
        fitted: dict[str, BaseDetector] = {}
        fitted_rows = None
        evidence_info: dict[str, Any] = {}
        if n_labels:
            decision, fitted, fitted_rows = self._label_decision(candidates, X, known, validation, n_labels)
            kind = "validation" if validation is not None else "labels"
            if validation is None:  # known anomalies: detectors that learn from them compete too (meta/labelled.py)
                from metaad.meta.labelled import add_semi_supervised

                decision = add_semi_supervised(decision, fitted, X, known, fitted_rows, overrides, n_labels=n_labels,
                                               prior_strength=float(self.prior_strength),
                                               random_state=self._evidence_seed(), log=logger)
        elif self.evidence == "synthetic" and len(candidates) > 1 and X.ndim == 2:
            # on a table that fills the evidence's fit part with max_fit_rows rows, those fits are the final ones
            reuse = self.max_fit_rows is not None and X.shape[0] >= int(self.max_fit_rows) + SYNTHETIC_REAL_ROWS
            evidence_info = synthetic_evidence(candidates, X, overrides, random_state=self._evidence_seed(), log=logger,
                                               max_fit_rows=int(self.max_fit_rows) if reuse else SYNTHETIC_FIT_ROWS,
                                               fitted=fitted if reuse else None)
            fit_rows = evidence_info.pop("fit_rows")
            if reuse:
                fitted_rows = fit_rows
            decision = steps.decide(candidates, evidence_key="synthetic_auroc", evidence_weight=float(self.evidence_weight),
                                    hedge_margin=float(self.hedge_margin), ensemble_size=int(self.ensemble_size),
                                    max_cost=max_cost, anchor=steps.hedge_id(candidates) if hedged else None)
            kind = "synthetic"
        else:
            decision = steps.decide(candidates, evidence_key=None, evidence_weight=0.0,
                                    hedge_margin=float(self.hedge_margin), ensemble_size=int(self.ensemble_size),
                                    max_cost=max_cost, anchor=steps.hedge_id(candidates) if hedged else None)
            kind = "none"
        chosen_ids = [c["config_id"] for c in decision.members]
        if all(cid in fitted for cid in chosen_ids):
            members, chosen, rows = [fitted[cid] for cid in chosen_ids], decision.members, fitted_rows
        else:
            from metaad.benchmark.protocol import fit_sample

            rows = None if self.max_fit_rows is None else fit_sample(X.shape[0], self._evidence_seed(), int(self.max_fit_rows))
            rest = [c for c in decision.ranked if c["config_id"] not in chosen_ids]
            fallbacks = steps.candidates_from(ranking[~ranking["config_id"].isin([c["config_id"] for c in candidates])].head(20))
            members, chosen = steps.fit_with_fallbacks(decision.members + rest + fallbacks, X, overrides,
                                                       len(decision.members), rows=rows, log=logger)
        self.detectors_ = members
        self.candidates_ = [{k: v for k, v in c.items() if k != "prior"} | {"prior": round(c["prior"], 4)}
                            for c in decision.ranked]
        self.selected_ = {k: chosen[0][k] for k in ("config_id", "family", "params", "predicted_auroc")}
        self.ensemble_ = [c["config_id"] for c in chosen]
        similar = steps.similar_tasks(selector, features, [c["config_id"] for c in self.candidates_], k=steps.N_SIMILAR)
        self.explanation_ = {
            "n_labels": n_labels,
            "evidence": kind,
            "evidence_details": evidence_info,
            "confidence": decision.confidence,
            "confidence_reason": decision.reason,
            "n_configurations": len(ranking),
            "n_knowledge_tasks": len(selector.tasks_),
            "n_knowledge_datasets": len(selector.datasets_),
            "similar_datasets": similar,
        }
        self.explanation_["summary"] = self._summary(similar)
        train_scores = [steps.training_scores(d, X, rows) for d in members]
        self._train_sorted_ = [np.sort(s) for s in train_scores]
        self.decision_scores_ = self._combine(train_scores)

    def _evidence_seed(self) -> int:
        from sklearn.utils import check_random_state

        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _label_decision(self, candidates: list[dict[str, Any]], X: np.ndarray, known: np.ndarray | None,
                        validation: tuple[np.ndarray, np.ndarray] | None, n_labels: int) -> tuple[Any, dict[str, BaseDetector], np.ndarray]:
        """Judge the candidates by labelled evidence, fitted on a sample that keeps every known anomaly; returns
        the decision, the fitted candidates (reused as the final fit when they were fitted as it would be) and
        the sample's rows."""
        from metaad.meta import selection as steps
        from metaad.meta.evidence import LABEL_ROWS, blend_with_evidence, label_evidence, label_subsample

        from metaad.benchmark.protocol import fit_sample
        from metaad.benchmark.zoo import fits_size

        cap = LABEL_ROWS if self.max_fit_rows is None else min(LABEL_ROWS, int(self.max_fit_rows))
        if validation is not None or known is None:
            rows = fit_sample(X.shape[0], self._evidence_seed(), cap)
        else:
            rows = label_subsample(known, cap, random_state=self._evidence_seed())
        keep_fits = self.max_fit_rows is not None or len(rows) == X.shape[0]  # the judged fits are the final ones

        fitted: dict[str, BaseDetector] = {}
        observed = {}
        for cand in candidates:
            evidence = {"auroc": float("nan")}
            if fits_size(cand["family"], len(rows)):
                try:
                    det = steps.build_detector(cand, self._member_params()).fit(X[rows])
                except (DataError, ParameterError) as exc:
                    logger.info("auto: %s cannot be fitted here (%s)", cand["config_id"], exc)
                else:
                    if keep_fits:
                        fitted[cand["config_id"]] = det
                    evidence = (label_evidence(det.decision_function(validation[0]), validation[1]) if validation is not None
                                else label_evidence(det.decision_scores_, known[rows]))
            cand["label_auroc"] = None if not np.isfinite(evidence["auroc"]) else round(evidence["auroc"], 4)
            observed[cand["config_id"]] = evidence["auroc"]
        posterior = blend_with_evidence({c["config_id"]: c["predicted_auroc"] for c in candidates}, observed,
                                        n_labels=n_labels, prior_strength=float(self.prior_strength))
        for cand in candidates:
            cand["posterior"] = posterior[cand["config_id"]] if np.isfinite(observed[cand["config_id"]]) else -1.0
        ranked = sorted(candidates, key=lambda c: (-c["posterior"], c["rank"]))
        reason = f"{n_labels} labelled anomalies judged {len(candidates)} candidates" + \
            ("" if len(rows) == X.shape[0] else f" fitted on a {len(rows)}-row sample" +
             (" that keeps every known anomaly" if validation is None else ""))
        return steps.Decision([ranked[0]], "high" if n_labels >= 5 else "low", reason, ranked), fitted, rows

    def _summary(self, similar: list[dict[str, Any]]) -> str:
        sel, info = self.selected_, self.explanation_
        where = ", ".join(
            f"{s['task']} ({s['auroc'][sel['config_id']]:.3f}, best there {s['best_auroc']:.3f})"
            for s in similar if s["auroc"].get(sel["config_id"]) is not None
        )
        text = (f"{sel['config_id']} ({sel['family']}) was chosen among {info['n_configurations']} configurations "
                f"benchmarked on {info['n_knowledge_datasets']} datasets at several sizes; predicted AUROC "
                f"{sel['predicted_auroc']:.3f}.")
        if where:
            text += f" On the most similar tasks it scored: {where}."
        if info["evidence"] == "synthetic":
            text += (f" The top {len(self.candidates_)} candidates were judged on synthetic anomalies "
                     f"({', '.join(info['evidence_details'].get('types', []))}) injected into a held-out part of the data.")
        elif info["evidence"] == "validation":
            text += f" A labelled validation set ({info['n_labels']} anomalies) re-ranked the top {len(self.candidates_)} candidates."
        elif info["evidence"] == "labels":
            text += f" {info['n_labels']} known anomalies re-ranked the top {len(self.candidates_)} candidates."
        confidence = "sure" if info["confidence"] == "high" else "unsure"
        text += f" Confidence: {info['confidence']} ({confidence}: {info['confidence_reason']})."
        if len(self.ensemble_) > 1:
            text += f" Scores are the mean rank of {', '.join(self.ensemble_)}."
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
        kind = self.explanation_.get("evidence", "none")
        header = ["rank", "configuration", "family", "parameters", "predicted AUROC", "predicted seconds"]
        evidence = {"validation": ("label_auroc", "AUROC on the validation set"), "labels": ("label_auroc", "AUROC on known anomalies"),
                    "synthetic": ("synthetic_auroc", "AUROC on synthetic anomalies")}.get(kind)
        header += [evidence[1], "blended"] if evidence else []
        rows = []
        for i, c in enumerate(self.candidates_, 1):
            row = [i, c["config_id"], c["family"], json.dumps(c["params"], sort_keys=True), c["predicted_auroc"],
                   c.get("predicted_seconds")]
            row += [c.get(evidence[0]), c.get("posterior")] if evidence else []
            rows.append(row)
        ids = [c["config_id"] for c in self.candidates_[:3]]
        sim_rows = [[s["task"], s["distance"], *[s["auroc"].get(i) for i in ids], s["best_config"], s["best_auroc"]]
                    for s in self.explanation_["similar_datasets"]]
        parts = [
            f"<p>{escape(self.explanation_['summary'])}</p>",
            "<h3>Top candidates</h3>", table(header, rows),
            "<h3>Most similar datasets in the knowledge base</h3>",
            ("<p>Each is a benchmark dataset at one size (dataset@rows). Distance: root-mean-square difference of the "
             "standardized meta-features. AUROC: test AUROC recorded in the knowledge base.</p>"),
            table(["task", "distance", *[f"AUROC of {i}" for i in ids], "best configuration", "its AUROC"], sim_rows),
        ]
        if len(self.ensemble_) > 1:
            parts.insert(1, f"<p>Scores: mean rank of the ensemble {escape(', '.join(self.ensemble_))}.</p>")
        return "\n".join(parts)

    # ------------------------------------------------------------------------------------------- persistence
    def _get_fitted_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        from metaad._params_json import _json_safe, _params_for_file

        arrays: dict[str, np.ndarray] = {"decision_scores": self.decision_scores_}
        members = []
        for i, det in enumerate(self.detectors_):
            # the member's scores of every training row, which rank its scores in the ensemble: a member fitted on a
            # sample (max_fit_rows) holds only the sample's own scores
            arrays[f"reference{i}"] = self._train_sorted_[i]
            inner_arrays, inner_meta = det._get_fitted_state()
            arrays.update({f"member{i}.{k}": v for k, v in inner_arrays.items()})
            members.append({"detector": det.registry_name, "params": _params_for_file(det.get_params(deep=False)),
                            "fitted": _json_safe(inner_meta)})
        meta = {"members": members, "selected": self.selected_, "candidates": self.candidates_,
                "explanation": self.explanation_, "ensemble": self.ensemble_, "threshold": self.threshold_,
                "n_features_in": self.n_features_in_, "feature_shape": list(self.feature_shape_)}
        return arrays, _json_safe(meta)

    def _set_fitted_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        from metaad._params_json import _params_from_file

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
            self._train_sorted_ = [np.sort(np.asarray(arrays.get(f"reference{i}", d.decision_scores_), dtype=np.float64))
                                   for i, d in enumerate(detectors)]  # files before 0.1 hold no reference arrays
            self.selected_, self.candidates_ = meta["selected"], meta["candidates"]
            self.explanation_, self.ensemble_ = meta["explanation"], meta["ensemble"]
            self.n_features_in_ = int(meta["n_features_in"])
            self.feature_shape_ = tuple(int(s) for s in meta["feature_shape"])
            self.decision_scores_ = np.asarray(arrays["decision_scores"], dtype=np.float64)
            self.threshold_ = float(meta["threshold"])
        except KeyError as exc:
            raise ModelFileError(f"auto: the saved model lacks {exc}; it was not written by this version") from None
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)


def _binary_labels(y: Any, name: str, n_rows: int, *, need_both: bool) -> np.ndarray:
    """``y`` as an int array of 0/1 with one label per row, or a :class:`DataError` naming the first bad row."""
    values = np.asarray(y).ravel()
    if len(values) != n_rows:
        raise DataError(f"{name} has {len(values)} labels for {n_rows} rows")
    try:
        bad = ~np.isin(values.astype(np.float64), (0.0, 1.0))
    except (TypeError, ValueError):
        bad = np.ones(len(values), dtype=bool)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        meaning = "0 (normal) or 1 (anomaly)" if need_both else "0 (unknown) or 1 (known anomaly)"
        value = values[row].item() if hasattr(values[row], "item") else values[row]
        raise DataError(f"{name} must be {meaning}; row {row} holds {value!r}")
    labels = values.astype(np.float64).astype(int)
    if need_both and labels.min() == labels.max():
        raise DataError(f"{name} must hold both normal rows (0) and anomalies (1) to judge the candidates")
    return labels


__all__ = ["AutoDetector"]
