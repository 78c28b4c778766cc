"""auto with known anomalies weighs the semi-supervised detectors; without labels nothing changes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from metaad.meta import labelled
from metaad.meta.auto import AutoDetector
from metaad.meta.labelled import cross_fitted_label_auroc, semi_supervised_candidates

FAST = {"random_state": 0, "n_candidates": 2, "families": ("ecod", "hbos", "iforest", "knn")}


def hidden_anomalies(seed: int, n: int = 600, n_anomalies: int = 30):
    """Anomalies no unsupervised detector can see: a tight cluster in the middle of uniform normal rows."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(size=(n, 4))
    X[:n_anomalies] = 0.5 + 0.03 * rng.normal(size=(n_anomalies, 4))
    y = np.zeros(n, dtype=int)
    y[:n_anomalies] = 1
    return X, y


@pytest.fixture(scope="module")
def fitted_with_labels():
    X, y = hidden_anomalies(0)
    known = np.zeros_like(y)
    known[:10] = 1  # ten of the thirty are known
    return AutoDetector(**FAST).fit(X, known)


def test_labels_bring_in_a_detector_that_learns_from_them(fitted_with_labels) -> None:
    """The unsupervised candidates miss the hidden cluster; a semi-supervised one is chosen and finds it."""
    det = fitted_with_labels
    ids = [c["config_id"] for c in det.candidates_]
    assert {"stacked-labelled", "devnet-labelled"} <= set(ids)
    assert det.selected_["family"] in labelled.SEMI_SUPERVISED
    X_new, y_new = hidden_anomalies(1)
    assert roc_auc_score(y_new, det.decision_function(X_new)) > 0.9
    stacked = [c for c in det.candidates_ if c["config_id"] == "stacked-labelled"]
    assert stacked[0]["label_auroc"] is not None


def test_without_labels_nothing_changes(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the semi-supervised step ran without labels")

    monkeypatch.setattr(labelled, "add_semi_supervised", refuse)
    X, y = hidden_anomalies(0)
    det = AutoDetector(**FAST).fit(X)
    assert all(c["family"] not in labelled.SEMI_SUPERVISED for c in det.candidates_)
    AutoDetector(**FAST).fit(X[:400], X_val=X[400:], y_val=y[400:] | (np.arange(200) < 5))  # a validation set: neither


def test_cross_fitted_evidence_is_not_the_training_fit() -> None:
    """Labels on pure noise: a detector that learnt them finds them in its training scores, not in held-out folds."""
    import metaad

    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    known = np.zeros(300, dtype=int)
    known[rng.choice(300, 12, replace=False)] = 1

    def make():
        return metaad.make_detector("stacked", members=("knn",), random_state=0)

    in_sample = roc_auc_score(known, make().fit(X, known).decision_scores_)
    held_out = cross_fitted_label_auroc(make, X, known)
    assert in_sample > 0.95 and held_out < 0.75
    assert np.isnan(cross_fitted_label_auroc(make, X, (np.arange(300) == 0).astype(int)))  # one label: no folds


def test_stacked_candidate_stacks_the_best_judged_classical_candidates() -> None:
    ranked = [{"config_id": "a", "family": "autoencoder", "params": {}, "predicted_auroc": 0.8, "rank": 1},
              {"config_id": "k", "family": "knn", "params": {"n_neighbors": 7}, "predicted_auroc": 0.7, "rank": 2}]
    semi = {c["family"]: c for c in semi_supervised_candidates(ranked)}
    assert semi["stacked"]["params"]["members"][0] == 'knn:{"n_neighbors": 7}'
    assert "autoencoder" not in semi["stacked"]["params"]["members"]
    assert semi["stacked"]["predicted_auroc"] == 0.8 and semi["devnet"]["predicted_auroc"] == 0.75


def test_stacked_is_kept_unless_another_candidate_leads_it_by_the_margin() -> None:
    from metaad.meta.labelled import STACKED_MARGIN, prefer_stacked

    def ids(ranked):
        return [c["config_id"] for c in prefer_stacked(ranked)]

    ranked = [{"config_id": "knn-1", "posterior": 0.80 + STACKED_MARGIN - 0.01, "label_auroc": 0.99},
              {"config_id": "devnet-labelled", "posterior": 0.70, "label_auroc": 0.80 + STACKED_MARGIN - 0.01,
               "semi_supervised": True},
              {"config_id": "stacked-labelled", "posterior": 0.80, "label_auroc": 0.80, "semi_supervised": True}]
    assert ids(ranked) == ["stacked-labelled", "knn-1", "devnet-labelled"]
    ranked[0]["posterior"] = 0.80 + STACKED_MARGIN + 0.01      # an unsupervised candidate leads by its blend
    assert ids(ranked)[0] == "knn-1"
    ranked[1]["label_auroc"] = 0.80 + 2 * STACKED_MARGIN + 0.02  # devnet leads further, by its own evidence
    assert ids(ranked)[0] == "devnet-labelled"
    ranked[2]["posterior"] = -1.0                                # stacked could not be judged: the ranking stands
    assert ids(ranked) == ["knn-1", "devnet-labelled", "stacked-labelled"]


def test_rivals_are_not_judged_when_the_stacked_detector_leaves_no_room(monkeypatch) -> None:
    """Stacked's cross-fitted label AUROC >= 1 - margin: devnet cannot lead it by the margin, so is not fitted."""
    from metaad.detectors.stacked import StackedDetector

    calls = []
    monkeypatch.setattr(labelled, "cross_fitted_label_auroc", lambda *a, **k: calls.append(1) or 0.5)
    X, y = hidden_anomalies(0)
    known = np.zeros_like(y)
    known[:10] = 1
    monkeypatch.setattr(StackedDetector, "cross_fitted_auroc", lambda self, *a, **k: 1.0 - labelled.STACKED_MARGIN)
    det = AutoDetector(**FAST).fit(X, known)
    assert calls == [] and det.selected_["config_id"] == "stacked-labelled"
    devnet = [c for c in det.candidates_ if c["config_id"] == "devnet-labelled"]
    assert devnet[0]["label_auroc"] is None
    monkeypatch.setattr(StackedDetector, "cross_fitted_auroc", lambda self, *a, **k: 0.9)
    AutoDetector(**FAST).fit(X, known)
    assert calls == [1]  # room left: devnet is judged
