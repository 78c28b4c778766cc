"""A stacked semi-supervised detector (XGBOD's idea, Zhao & Hryniewicki 2018): unsupervised scores as features.

``fit(X, y)`` takes ``y`` with 1 for a few known anomalies and 0 for every other row (unlabeled: mostly normal,
but hiding the anomalies nobody labelled). Four steps:

1. **Members.** Each unsupervised detector of ``members`` is fitted on at most ``member_fit_rows`` rows (the
   labels are never shown to them) and scores every row; its scores become one feature beside the raw columns.
   Members do not see the labels, so their training-row scores cannot leak them: no out-of-fold scoring is needed.
   Rows a member was fitted on get its in-sample scores (neighbour methods leave a row out of its own
   neighbourhood), the other rows and new data its ``decision_function``.
2. **Consensus judged by the labels.** The members' consensus is the mean rank of the ``n_consensus`` members
   whose training scores rank the known anomalies highest (their label AUROC is fair evidence: the members never
   saw the labels). On vertebral, Pima, vowels, letter and cardio (seeds 0-2, k = 5 and 20, the richer member set)
   this raised mean test AUROC from 0.850 to 0.853 (k = 5) and 0.893 to 0.898 (k = 20) against the mean of all
   members; on the seven other benchmark datasets both sets together (31 members, consensus of 5) stayed level
   with the old 9-member stacked detector (0.946 -> 0.945 at k = 5, 0.969 -> 0.969 at k = 20).
3. **Positive-unlabeled care** (``pu_weighting="consensus"``). The consensus points at the unlabeled rows most
   likely to be unlabeled anomalies: an unlabeled row in the top ``contamination`` fraction of the consensus is
   drawn as a "normal" example with a probability falling linearly from 1 at that quantile to 0 at the very top,
   so the classifier is not taught that those rows are normal.
4. **Classifier.** ``n_bags`` gradient-boosted tree classifiers (scikit-learn's
   :class:`~sklearn.ensemble.HistGradientBoostingClassifier`, LightGBM's histogram algorithm) are trained on every
   known anomaly against a sample of at most ``max_unlabeled`` unlabeled rows each (bagged PU learning, Mordelet
   & Vert 2014), classes unweighted; the score is their mean log-odds, plus the consensus rank scaled by
   ``consensus_weight`` (with five labels the trees know little; the consensus orders the many rows they cannot
   tell apart).

:meth:`StackedDetector.cross_fitted_auroc` judges a fitted detector on its own labels without the training fit's
optimism: steps 2-4 (what learns from the labels) are refitted per fold, the members are not.

The members are a parameter: ``auto`` passes the configurations its selector ranks best for the table
(:mod:`metaad.meta.labelled`); the default is a fixed, diverse set that is cheap at any size. The detector lives
in ``detectors/`` (layer 3), below the selector (layer 8), so it cannot ask the selector itself.

Saved like the PyOD adapters: scikit-learn's trees cannot be written without pickle, so the model file holds the
training rows and labels, and loading refits the same seeded model and checks that it reproduces the saved
training scores.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from metaad.detectors._params import make_init
from metaad.detectors.base import BaseDetector
from metaad.detectors.registry import get_detector_info, make_detector, register
from metaad.exceptions import DataError, ModelFileError, ParameterError

#: The default members, XGBOD's idea of many cheap transformed outlier scores: kNN (largest and mean distance) and
#: LOF at seven neighbourhood sizes, two isolation forests, HBOS at three bin counts, ECOD, COPOD, PCA, LODA and one
#: one-class SVM; all cheap at 35,000 rows when fitted on a 5,000-row sample (XGBOD's own list, 41 detectors
#: including 11 one-class SVMs, took minutes there). On vertebral, Pima, vowels, letter and cardio (seeds 0-2) they
#: raised mean test AUROC from 0.831 to 0.850 (k = 5) and 0.884 to 0.893 (k = 20) against the former nine members
#: (letter 0.82 -> 0.88, vowels 0.96 -> 0.99 at k = 5).
DEFAULT_MEMBERS: tuple[str, ...] = (
    "iforest", 'iforest:{"max_features": 0.5}', "hbos", 'hbos:{"n_bins": 5}', 'hbos:{"n_bins": 30}', "ecod", "copod",
    "pca", "loda", "ocsvm",
    *(f'knn:{{"n_neighbors": {k}}}' for k in (1, 3, 5, 10, 20, 30, 50)),
    *(f'knn:{{"method": "mean", "n_neighbors": {k}}}' for k in (1, 3, 5, 10, 20, 30, 50)),
    *(f'lof:{{"n_neighbors": {k}}}' for k in (2, 3, 5, 10, 20, 30, 50)),
)

_DEFAULTS: dict[str, Any] = {
    "members": DEFAULT_MEMBERS,
    "member_fit_rows": 5000,
    "include_raw": True,
    "pu_weighting": "consensus",
    "n_bags": 10,
    "max_unlabeled": 2000,
    "max_iter": 100,
    "learning_rate": 0.1,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 5,
    "l2_regularization": 1.0,
    "consensus_weight": 3.0,
    "n_consensus": 5,
    "contamination": 0.1,
    "threshold": None,
    "random_state": None,
}
PU_WEIGHTING: tuple[Any, ...] = ("consensus", None)
#: At most this many bags per fold in :meth:`StackedDetector.cross_fitted_auroc` (bags smooth the scores; the
#: folds only have to rank the held-out rows).
CROSS_FIT_BAGS = 3


def parse_member(spec: str) -> tuple[str, dict[str, Any]]:
    """A member written as ``"name"`` or ``'name:{json parameters}'``, as (registry name, parameters).

    Examples
    --------
    >>> parse_member("iforest")
    ('iforest', {})
    >>> parse_member('knn:{"n_neighbors": 20}')
    ('knn', {'n_neighbors': 20})
    """
    if not isinstance(spec, str) or not spec:
        raise ParameterError(f"stacked: each member must be a detector name, optionally 'name:{{json}}', got {spec!r}")
    name, _, params = spec.partition(":")
    if not params:
        return name.strip(), {}
    try:
        parsed = json.loads(params)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"stacked: member {spec!r}: the parameters after ':' are not JSON ({exc.msg})") from None
    if not isinstance(parsed, dict):
        raise ParameterError(f"stacked: member {spec!r}: the parameters after ':' must be a JSON object")
    return name.strip(), parsed


def member_spec(name: str, params: dict[str, Any]) -> str:
    """The inverse of :func:`parse_member` (sorted keys, so equal members are equal strings).

    Examples
    --------
    >>> member_spec("knn", {"n_neighbors": 20})
    'knn:{"n_neighbors": 20}'
    """
    return name if not params else f"{name}:{json.dumps(params, sort_keys=True)}"


def rank_percentiles(reference: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Fraction of ``reference`` at or below each score (in [0, 1]).

    Examples
    --------
    >>> rank_percentiles(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 2.5, 9.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    ordered = np.sort(reference)
    return np.searchsorted(ordered, scores, side="right") / len(ordered)


@register("stacked", family="meta",
          description="Stacked semi-supervised detector: unsupervised scores as features, gradient-boosted trees on a few known anomalies (positive-unlabeled care).")
class StackedDetector(BaseDetector):
    """Unsupervised detectors' scores as features beside the raw columns, and gradient-boosted trees trained on a
    few known anomalies against the unlabeled rows (see the module docstring).

    Parameters
    ----------
    members : tuple of str, default :data:`DEFAULT_MEMBERS`
        Unsupervised detectors whose scores become features: registry names, optionally with parameters as
        ``'name:{json}'`` (``'knn:{"n_neighbors": 20}'``). Empty: the raw columns alone.
    member_fit_rows : int or None, default 5000
        Each member is fitted on at most this many rows drawn at random (None: all rows) and scores every row.
    include_raw : bool, default True
        Give the classifier the raw columns too (False: member scores only).
    pu_weighting : {"consensus", None}, default "consensus"
        How unlabeled rows that look anomalous are treated (None: as normal, like XGBOD).
    n_bags : int, default 10
        At most this many classifiers averaged, each on every known anomaly and its own sample of unlabeled rows;
        only as many as it takes for the samples to cover the unlabeled rows (one on tables of up to
        ``max_unlabeled`` of them: more would repeat the same deterministic fit).
    max_unlabeled : int, default 2000
        Unlabeled rows per classifier (all of them when there are fewer).
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Of each :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (no early stopping: a validation split
        of five known anomalies would hold one or two). No class weights: with them scikit-learn (1.9) bins the
        features at weighted quantiles, which took 15 of a 16-second fit on vowels and crowds the bins round the
        few known anomalies; unweighted, mean test AUROC on seven of the benchmark datasets was level or better
        (annthyroid 0.933 -> 0.944, cardio 0.953 -> 0.957 at k = 5; the others within 0.01).
    n_consensus : int or None, default 5
        The consensus (PU weighting and score) is the mean rank of this many members, those whose training scores
        rank the known anomalies highest (None: every member).
    consensus_weight : float, default 3.0
        Weight of the members' mean rank (in [0, 1]) added to the classifiers' mean log-odds. On cardio, Pima,
        letter and vowels (k = 5, seeds 0-1) 0.1, 1 and 3 gave mean AUROC 0.797, 0.826 and 0.843; a rank average
        of the two (weights 0.3 or 0.5) gave 0.806 and 0.817: the log-odds say how sure the trees are. A weight
        that fell with the consensus's label AUROC (0 at 0.5, 3 from 0.75) helped those five datasets (vertebral
        0.757 -> 0.825 at k = 5) but hurt the seven others (satellite 0.715 -> 0.661), so it is not used.
    contamination, threshold, random_state
        See :class:`metaad.detectors.base.BaseDetector`; ``contamination`` is also the fraction of unlabeled rows
        the PU weighting treats as possibly anomalous, and is passed to the members.

    Attributes
    ----------
    members_ : list of BaseDetector
        The fitted members. A member that cannot be fitted on this table (50 neighbours on 40 rows) sits out and
        is listed in ``skipped_members_``.

    Raises
    ------
    DataError
        When ``fit`` gets no ``y`` or a ``y`` without any 1, or when no member can be fitted and
        ``include_raw=False``.

    Examples
    --------
    >>> import numpy as np, metaad
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(size=(300, 4)), rng.normal(4, 1, size=(10, 4))])
    >>> y = np.zeros(310, dtype=int); y[300:305] = 1          # 5 of the 10 anomalies are labelled
    >>> det = metaad.make_detector("stacked", members=("iforest", "knn"), n_bags=3, max_unlabeled=100,
    ...                            random_state=0).fit(X, y)
    >>> det.n_member_features_, len(det.classifiers_)
    (2, 3)
    >>> bool(det.decision_function(X[305:]).mean() > det.decision_function(X[:300]).mean())
    True
    """

    __init__ = make_init(_DEFAULTS, "StackedDetector")
    _uses_labels = True

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        """Cheap settings for the contract suite: two fast members, three small bags."""
        return {"random_state": 0, "members": ("iforest", "knn"), "n_bags": 3, "max_iter": 30}

    # ------------------------------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        if isinstance(self.members, (str, bytes)) or not isinstance(self.members, (tuple, list)):
            raise ParameterError(f"stacked: members must be a tuple of detector names, got {self.members!r}")
        for spec in self.members:
            name, _ = parse_member(spec)
            info = get_detector_info(name)
            if info.cls._uses_labels or info.family == "meta":
                raise ParameterError(f"stacked: member {spec!r} is not an unsupervised detector")
        for name in ("n_bags", "max_unlabeled", "max_iter", "max_leaf_nodes", "min_samples_leaf"):
            value = getattr(self, name)
            minimum = 2 if name == "max_leaf_nodes" else 1
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
                raise ParameterError(f"stacked: {name} must be an integer >= {minimum}, got {value!r}")
        value = self.member_fit_rows
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 10):
            raise ParameterError(f"stacked: member_fit_rows must be None or an integer >= 10, got {value!r}")
        for name, low in (("learning_rate", 0.0), ("l2_regularization", -1e-300)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value > low:
                raise ParameterError(f"stacked: {name} must be a number > {max(low, 0)}, got {value!r}"
                                     if low == 0 else f"stacked: {name} must be a number >= 0, got {value!r}")
        share = self.consensus_weight
        if isinstance(share, bool) or not isinstance(share, (int, float, np.integer, np.floating)) or not share >= 0:
            raise ParameterError(f"stacked: consensus_weight must be a number >= 0, got {share!r}")
        value = self.n_consensus
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise ParameterError(f"stacked: n_consensus must be None or an integer >= 1, got {value!r}")
        if self.pu_weighting not in PU_WEIGHTING:
            raise ParameterError(f"stacked: pu_weighting must be 'consensus' or None, got {self.pu_weighting!r}")
        if not isinstance(self.include_raw, (bool, np.bool_)):
            raise ParameterError(f"stacked: include_raw must be True or False, got {self.include_raw!r}")
        if not self.include_raw and not self.members:
            raise ParameterError("stacked: include_raw=False needs at least one member (there would be no feature)")

    # ------------------------------------------------------------------------------------------ fit
    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        if y is None:
            raise DataError("stacked: fit(X, y) needs y with 1 for a few known anomalies and 0 for the unlabeled rows; y is None")
        if not (y == 1).any():
            raise DataError("stacked: y has no 1: the stacked detector needs at least one labelled anomaly "
                            "(use an unsupervised detector, or 'auto', otherwise)")
        if (y == 1).all():
            raise DataError("stacked: every row of y is 1: the stacked detector needs unlabeled rows (0) too")
        rng = check_random_state(self.random_state)
        member_seed = int(rng.randint(np.iinfo(np.int32).max))
        self._head_seed = int(rng.randint(np.iinfo(np.int32).max))
        self._fit_members(X, member_seed)
        features, ranks = self._member_features(X, training=True)
        head = self._fit_head(features, ranks, y, np.random.RandomState(self._head_seed))
        self.consensus_members_, self.consensus_weight_, self.classifiers_ = head
        self.X_train_, self.y_train_, self.n_known_ = X, y.astype(np.int64), int(y.sum())
        self.decision_scores_ = self._combine(features, ranks, head)

    def _fit_head(self, features: np.ndarray, ranks: np.ndarray, y: np.ndarray, rng: np.random.RandomState,
                  max_bags: int | None = None) -> tuple[np.ndarray, float, list[Any]]:
        """What learns from the labels: the consensus members, the consensus weight and the classifiers."""
        chosen = self._consensus_members(ranks, y)
        consensus = ranks[:, chosen].mean(axis=1) if len(chosen) else np.zeros(len(y))
        weights = self._unlabeled_weights(consensus, y, bool(len(chosen)))
        classifiers = self._fit_classifiers(features, y, weights, rng, max_bags)
        return chosen, float(self.consensus_weight), classifiers

    def _consensus_members(self, ranks: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Indices of the members whose training scores rank the known anomalies highest (label AUROC: fair
        evidence, the members never saw the labels), at most ``n_consensus`` of them (all when None)."""
        n_members = ranks.shape[1]
        if self.n_consensus is None or n_members <= int(self.n_consensus):
            return np.arange(n_members)
        from sklearn.metrics import roc_auc_score

        auroc = np.array([roc_auc_score(y == 1, ranks[:, j]) for j in range(n_members)])
        return np.sort(np.argsort(-auroc, kind="stable")[: int(self.n_consensus)])

    def cross_fitted_auroc(self, n_folds: int = 3, random_state: int = 0) -> float:
        """AUROC of held-out known anomalies against the held-out other training rows, the label-learning part
        (consensus members, classifiers) refitted on the other folds; mean over folds weighted by their known
        anomalies (NaN with fewer than two known anomalies).

        The members are not refitted: they never see the labels, so their scores of held-out rows carry none.
        This costs ``n_folds`` classifier fits, not ``n_folds`` full fits, and is what ``auto`` judges the stacked
        detector by (:mod:`metaad.meta.labelled`).
        """
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold

        self._check_fitted()
        y = self.y_train_
        folds = min(int(n_folds), int(y.sum()))
        if folds < 2:
            return float("nan")
        features, ranks = self._member_features(self.X_train_, training=True)
        rng = np.random.RandomState(self._head_seed)
        total, weight = 0.0, 0
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=random_state).split(features, y):
            if y[train].sum() == 0 or y[test].sum() == 0:
                continue
            head = self._fit_head(features[train], ranks[train], y[train], rng, CROSS_FIT_BAGS)
            scores = self._combine(features[test], ranks[test], head)
            total += roc_auc_score(y[test], scores) * int(y[test].sum())
            weight += int(y[test].sum())
        return total / weight if weight else float("nan")

    def _fit_members(self, X: np.ndarray, seed: int) -> None:
        n = X.shape[0]
        limit = n if self.member_fit_rows is None else min(n, int(self.member_fit_rows))
        rows = np.arange(n) if limit == n else np.sort(np.random.RandomState(seed).choice(n, size=limit, replace=False))
        members, train_scores, skipped = [], [], []
        for spec in self.members:
            name, params = parse_member(spec)
            accepted = get_detector_info(name).parameters
            extra = {k: v for k, v in (("contamination", self.contamination), ("random_state", seed)) if k in accepted}
            member = make_detector(name, **{**extra, **params})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    member.fit(X[rows])
                except (DataError, ParameterError):  # e.g. 50 neighbours on a 40-row table: this member sits out
                    skipped.append(spec)
                    continue
                scores = np.empty(n)
                rest = np.ones(n, dtype=bool)
                rest[rows] = False
                scores[rows] = member.decision_scores_
                if rest.any():
                    scores[rest] = member.decision_function(X[rest])
            members.append(member)
            train_scores.append(np.nan_to_num(scores, nan=0.0, posinf=1e300, neginf=-1e300))
        if not members and not self.include_raw:
            raise DataError(f"stacked: none of the {len(self.members)} members can be fitted on {limit} rows "
                            f"(first: {skipped[0]}), and include_raw=False leaves no feature")
        self.members_ = members
        self.skipped_members_ = skipped
        self._member_train_scores = train_scores
        self._member_reference = [np.sort(s) for s in train_scores]
        self.n_member_features_ = len(members)

    def _member_features(self, X: np.ndarray, *, training: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The classifier's features (raw columns and member scores) and the members' rank percentiles (one column
        each)."""
        if training:
            scores = self._member_train_scores
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores = [m.decision_function(X) for m in self.members_]
        scores = [np.nan_to_num(np.asarray(s, dtype=np.float64), nan=0.0, posinf=1e300, neginf=-1e300) for s in scores]
        ranks = (np.column_stack([rank_percentiles(ref, s) for ref, s in zip(self._member_reference, scores)])
                 if scores else np.zeros((X.shape[0], 0)))
        parts = ([X] if self.include_raw else []) + ([np.column_stack(scores)] if scores else [])
        return np.hstack(parts), ranks

    def _unlabeled_weights(self, consensus: np.ndarray, y: np.ndarray, has_members: bool = True) -> np.ndarray:
        """Probability of drawing each unlabeled row as a normal example (0 for the known anomalies)."""
        weights = (y == 0).astype(np.float64)
        if self.pu_weighting == "consensus" and has_members:
            unlabeled = y == 0
            position = 1.0 - rank_percentiles(consensus[unlabeled], consensus[unlabeled])  # 0 at the very top
            weights[unlabeled] = np.clip(position / float(self.contamination), 0.0, 1.0)
            if weights.sum() == 0:  # every unlabeled row at the top (ties): draw them uniformly
                weights[unlabeled] = 1.0
        return weights

    def _fit_classifiers(self, features: np.ndarray, y: np.ndarray, weights: np.ndarray, rng: np.random.RandomState,
                         max_bags: int | None = None) -> list[Any]:
        from sklearn.ensemble import HistGradientBoostingClassifier

        anomalies = np.flatnonzero(y == 1)
        candidates = np.flatnonzero(weights > 0)
        probability = weights[candidates] / weights[candidates].sum()
        size = min(int(self.max_unlabeled), len(candidates))
        # one bag when every candidate row fits in it: more would repeat the same fit (the trees are deterministic)
        n_bags = min(int(self.n_bags), int(np.ceil(len(candidates) / size)), max_bags or int(self.n_bags))
        classifiers = []
        for _ in range(n_bags):
            drawn = rng.choice(candidates, size=size, replace=False, p=probability)
            rows = np.r_[anomalies, drawn]
            target = np.r_[np.ones(len(anomalies), dtype=int), np.zeros(len(drawn), dtype=int)]
            model = HistGradientBoostingClassifier(
                max_iter=int(self.max_iter), learning_rate=float(self.learning_rate), max_leaf_nodes=int(self.max_leaf_nodes),
                min_samples_leaf=int(self.min_samples_leaf), l2_regularization=float(self.l2_regularization),
                early_stopping=False, random_state=int(rng.randint(np.iinfo(np.int32).max)),
            )
            classifiers.append(model.fit(features[rows], target))
        return classifiers

    # ------------------------------------------------------------------------------------------ score
    def _combine(self, features: np.ndarray, ranks: np.ndarray, head: tuple[np.ndarray, float, list[Any]]) -> np.ndarray:
        chosen, weight, classifiers = head
        log_odds = np.mean([c.decision_function(features) for c in classifiers], axis=0)
        consensus = ranks[:, chosen].mean(axis=1) if len(chosen) else np.zeros(features.shape[0])
        return log_odds + weight * consensus

    def _score(self, X: np.ndarray) -> np.ndarray:
        features, ranks = self._member_features(X)
        return self._combine(features, ranks, (self.consensus_members_, self.consensus_weight_, self.classifiers_))

    # ------------------------------------------------------------------------------------------ persistence
    def _get_fitted_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {"X_train": self.X_train_, "y_train": self.y_train_, "decision_scores": self.decision_scores_}
        return arrays, {"state": "refit-from-training-data", "threshold": self.threshold_}

    def _set_fitted_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        try:
            X = np.ascontiguousarray(arrays["X_train"], dtype=np.float64)
            y = np.asarray(arrays["y_train"]).astype(int)
            saved = np.asarray(arrays["decision_scores"], dtype=np.float64)
            threshold = float(meta["threshold"])
        except KeyError as exc:
            raise ModelFileError(f"stacked: the saved model lacks {exc}; it was not written by this version") from None
        self.n_features_in_ = X.shape[1]
        self.feature_shape_ = (X.shape[1],)
        self._fit(X, y)
        if not np.allclose(self.decision_scores_, saved, rtol=1e-6, atol=1e-9):
            worst = float(np.max(np.abs(self.decision_scores_ - saved)))
            raise ModelFileError(
                f"stacked: refitting from the saved training data did not reproduce the saved scores (max difference "
                f"{worst:.3g}); the installed scikit-learn/PyOD probably differ from the ones that saved it")
        self.decision_scores_ = saved
        self.threshold_ = threshold
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)


__all__ = ["CROSS_FIT_BAGS", "DEFAULT_MEMBERS", "StackedDetector", "member_spec", "parse_member", "rank_percentiles"]
