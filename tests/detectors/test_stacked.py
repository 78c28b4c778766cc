"""The stacked detector: labels steer it, unlabeled anomalies stay anomalous, PU weights, members checked."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import metaad
from metaad.detectors.stacked import member_spec, parse_member
from metaad.exceptions import DataError, ParameterError
from tests.detectors._two_kinds import labelled_two_kinds, two_kinds

FAST = {"members": ("iforest", "knn"), "random_state": 0}


@pytest.fixture(scope="module")
def data():
    return labelled_two_kinds()  # six of kind A labelled, none of kind B


def test_labels_steer_the_scores(data) -> None:
    """New rows of the labelled kind outscore new rows of the unlabeled kind: fails if y were ignored."""
    X, _, known, X_new, kind_new = data
    det = metaad.make_detector("stacked", **FAST).fit(X, known)
    scores = det.decision_function(X_new)
    anomalies = kind_new > 0
    assert roc_auc_score(kind_new[anomalies] == 1, scores[anomalies]) > 0.75
    # labelling the other kind turns the order round
    other = np.zeros_like(known)
    other[np.flatnonzero(data[1] == 2)[:6]] = 1
    flipped = metaad.make_detector("stacked", **FAST).fit(X, other).decision_function(X_new)
    assert roc_auc_score(kind_new[anomalies] == 2, flipped[anomalies]) > 0.75


def test_unlabeled_anomalies_still_score_above_normal_rows(data) -> None:
    """Unlabeled anomalies (y = 0) of an unlabeled kind are not learnt as normal: the members' consensus keeps them up."""
    X, kind, known, X_new, kind_new = data
    det = metaad.make_detector("stacked", **FAST).fit(X, known)
    unlabeled = known == 0
    assert roc_auc_score(kind[unlabeled] > 0, det.decision_scores_[unlabeled]) > 0.95
    normal_or_b = kind_new != 1
    assert roc_auc_score(kind_new[normal_or_b] == 2, det.decision_function(X_new)[normal_or_b]) > 0.9


def test_pu_weights_spare_the_unlabeled_rows_the_members_find_anomalous(data) -> None:
    X, kind, known, _, _ = data
    det = metaad.make_detector("stacked", **FAST).fit(X, known)
    _, ranks = det._member_features(X, training=True)
    consensus = ranks[:, det.consensus_members_].mean(axis=1)
    weights = det._unlabeled_weights(consensus, known)
    assert (weights[known == 1] == 0).all()
    unlabeled = np.flatnonzero(known == 0)
    top = unlabeled[np.argsort(consensus[unlabeled])[-5:]]
    assert weights[top].max() < 0.1                       # the most anomalous unlabeled rows are hardly drawn
    assert weights[unlabeled].mean() > 0.9                # the contamination share at most is spared
    assert (weights[kind == 2] < 0.5).mean() > 0.8         # the unlabeled kind-B anomalies among them
    plain = metaad.make_detector("stacked", **{**FAST, "pu_weighting": None}).fit(X, known)
    np.testing.assert_array_equal(plain._unlabeled_weights(consensus, known), (known == 0).astype(float))


def test_needs_labelled_anomalies_and_unlabeled_rows(data) -> None:
    X, _, known, _, _ = data
    with pytest.raises(DataError, match="stacked: fit\\(X, y\\) needs y"):
        metaad.make_detector("stacked", **FAST).fit(X)
    with pytest.raises(DataError, match="y has no 1"):
        metaad.make_detector("stacked", **FAST).fit(X, np.zeros(len(X)))
    with pytest.raises(DataError, match="every row of y is 1"):
        metaad.make_detector("stacked", **FAST).fit(X, np.ones(len(X)))


@pytest.mark.parametrize(("members", "message"), [
    ("iforest", "tuple of detector names"),
    (("devnet",), "not an unsupervised detector"),
    (("knn:{oops",), "not JSON"),
    (("iforrest",), "Did you mean 'iforest'"),
])
def test_bad_members_are_named(members, message) -> None:
    with pytest.raises(ParameterError, match=message):
        metaad.make_detector("stacked", members=members)


def test_member_specs_round_trip() -> None:
    assert parse_member(member_spec("lof", {"n_neighbors": 50})) == ("lof", {"n_neighbors": 50})
    assert member_spec("ecod", {}) == "ecod"


def test_members_fitted_on_a_sample_score_every_row(data) -> None:
    X, _, known, _, _ = data
    det = metaad.make_detector("stacked", **{**FAST, "member_fit_rows": 100}).fit(X, known)
    assert all(len(m.decision_scores_) == 100 for m in det.members_)
    assert det.decision_scores_.shape == (len(X),)


def test_cli_detect_with_known_anomalies_column(tmp_path, capsys) -> None:
    """`metaad detect INPUT --detector stacked --known-anomalies-col C` fits on the labels and saves a loadable model."""
    import pandas as pd

    from metaad.cli._app import run_app

    X, kind = two_kinds(0)
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame["known"] = np.where(np.isin(np.arange(len(X)), np.flatnonzero(kind == 1)[:6]), 1.0, np.nan)
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    code = run_app(["detect", str(path), "--detector", "stacked", "--known-anomalies-col", "known", "--seed", "0",
                    "--param", 'members=["iforest", "knn"]', "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == len(X)
    model = metaad.load(out / "model")
    assert model.detector.registry_name == "stacked"
    assert model.detector.members == ("iforest", "knn")


def test_consensus_is_built_from_the_members_the_labels_judge_best() -> None:
    """With n_consensus=k the consensus averages the k members whose scores rank the known anomalies highest."""
    rng = np.random.RandomState(0)
    y = np.r_[np.ones(5), np.zeros(195)].astype(int)
    ranks = rng.uniform(size=(200, 4))
    ranks[:5, 2] = 0.99         # member 2 puts the known anomalies on top
    ranks[:5, 0] = 0.01         # member 0 puts them at the bottom
    det = metaad.make_detector("stacked", **{**FAST, "n_consensus": 1})
    assert det._consensus_members(ranks, y).tolist() == [2]
    det.set_params(n_consensus=3)
    assert det._consensus_members(ranks, y).tolist() == [1, 2, 3]
    det.set_params(n_consensus=None)
    assert det._consensus_members(ranks, y).tolist() == [0, 1, 2, 3]


def test_cross_fitted_auroc_holds_the_labels_out_and_leaves_the_model_alone() -> None:
    """Labels on pure noise: the training scores find them, the cross-fitted evidence does not; on real anomalies
    it is high. Cross-fitting refits only the classifiers: members, scores and classifiers stay as fitted."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    known = np.zeros(300, dtype=int)
    known[rng.choice(300, 12, replace=False)] = 1
    det = metaad.make_detector("stacked", **FAST).fit(X, known)
    members, classifiers, scores = list(det.members_), list(det.classifiers_), det.decision_scores_.copy()
    assert roc_auc_score(known, det.decision_scores_) > 0.95
    assert det.cross_fitted_auroc(3) < 0.75
    assert [id(m) for m in det.members_] == [id(m) for m in members]
    assert [id(c) for c in det.classifiers_] == [id(c) for c in classifiers]
    np.testing.assert_array_equal(det.decision_scores_, scores)
    X_a, kind = two_kinds(0)
    y_a = (kind == 1).astype(int)
    assert metaad.make_detector("stacked", **FAST).fit(X_a, y_a).cross_fitted_auroc(3) > 0.9
    one = np.zeros(300, dtype=int)
    one[0] = 1
    assert np.isnan(metaad.make_detector("stacked", **FAST).fit(X, one).cross_fitted_auroc(3))  # one label: no folds


def test_members_too_big_for_a_small_table_sit_out_and_it_still_learns() -> None:
    """The default members include kNN and LOF with 50 neighbours: on 40 rows they sit out (they used to make the
    whole fit fail, and ``auto`` with labels then dropped the stacked detector on every small table)."""
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(36, 4)), rng.normal(4, 1, size=(4, 4))]
    y = np.r_[np.zeros(36), [1, 1, 0, 0]].astype(int)  # two of the four anomalies known
    det = metaad.make_detector("stacked", random_state=0).fit(X, y)
    assert 'knn:{"n_neighbors": 50}' in det.skipped_members_ and len(det.members_) == det.n_member_features_ > 10
    assert det.decision_scores_[38:].min() > np.median(det.decision_scores_[:36])  # the unlabeled anomalies too
    with pytest.raises(DataError, match="none of the 1 members can be fitted"):
        metaad.make_detector("stacked", members=('knn:{"n_neighbors": 50}',), include_raw=False).fit(X, y)
