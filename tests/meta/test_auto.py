"""AutoDetector and select(): the shipped selection steps on a small planted knowledge base."""

from __future__ import annotations

import json

import numpy as np
import pytest

import metaad
from metaad.exceptions import DataError, ParameterError
from metaad.meta.auto import AutoDetector
from metaad.meta.recommend import select
from tests.meta._planted import planted_knowledge


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory) -> str:
    return str(planted_knowledge(tmp_path_factory.mktemp("knowledge")))


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 8))
    X[:15] += 5
    return X


def test_the_planted_winner_is_chosen_and_explained(knowledge, X) -> None:
    wide = AutoDetector(knowledge=knowledge, evidence="none", hedge_margin=0.0, random_state=0).fit(X)
    narrow = AutoDetector(knowledge=knowledge, evidence="none", hedge_margin=0.0, random_state=0).fit(X[:, :3])
    assert wide.selected_["family"] == "knn" and narrow.selected_["family"] != "knn"  # a reversed ranking fails here
    assert wide.detectors_[0].registry_name == "knn" and wide.ensemble_ == [wide.selected_["config_id"]]
    assert wide.explanation_["confidence"] == "high"
    families = [c["family"] for c in wide.candidates_]
    assert max(families.count(f) for f in families) <= 2  # max_per_family
    similar = wide.explanation_["similar_datasets"]
    assert len(similar) == 3 and similar[0]["distance"] <= similar[-1]["distance"]
    html = wide.explanation_html()
    assert wide.selected_["config_id"] in html and similar[0]["task"] in html and "<script" not in html
    np.testing.assert_array_equal(wide.decision_scores_, wide.detectors_[0].decision_scores_)


def test_synthetic_evidence_reranks_and_the_hedge_ensembles(knowledge, X) -> None:
    det = AutoDetector(knowledge=knowledge, hedge_margin=0.0, random_state=0).fit(X)
    assert det.explanation_["evidence"] == "synthetic"
    cands = det.candidates_
    assert all(c["synthetic_auroc"] is not None and 0 <= c["synthetic_auroc"] <= 1 for c in cands)
    assert any(c["family"] == "iforest" and c["params"] == {} for c in cands)  # the hedge is always a candidate
    mean = np.mean([c["synthetic_auroc"] for c in cands])
    for c in cands:  # posterior = prior + weight * (evidence - mean): evidence is used, in the right direction
        assert c["posterior"] == pytest.approx(c["prior"] + 0.5 * (c["synthetic_auroc"] - mean), abs=1e-3)
    posteriors = [c["posterior"] for c in cands]
    assert posteriors == sorted(posteriors, reverse=True)
    assert det.selected_["config_id"] == cands[0]["config_id"]
    hedged = AutoDetector(knowledge=knowledge, hedge_margin=1.0, random_state=0).fit(X)
    assert hedged.explanation_["confidence"] == "low" and len(hedged.detectors_) == 3
    members = [next(c for c in hedged.candidates_ if c["config_id"] == m) for m in hedged.ensemble_]
    assert len({m["family"] for m in members}) == 3 and members[0] == hedged.candidates_[0]
    anchor = [m for m in members if m["family"] == "iforest" and m["params"] == {}]
    assert len(anchor) == 1  # the uncertain choice always holds Isolation Forest at its defaults
    for member in members:  # each other member is the best remaining candidate of its family
        assert member in anchor or member == next(c for c in hedged.candidates_ if c["family"] == member["family"])
    sure = AutoDetector(knowledge=knowledge, hedge_margin=0.0, random_state=0).fit(X)
    assert sure.explanation_["confidence"] == "high" and len(sure.detectors_) == 1
    assert "low" in hedged.explanation_["summary"]


def test_a_few_labels_rerank_the_candidates(knowledge, X) -> None:
    from sklearn.metrics import roc_auc_score

    y = np.zeros(len(X), dtype=int)
    y[:5] = 1
    det = AutoDetector(knowledge=knowledge, prior_strength=0.0, random_state=0).fit(X, y)
    assert det.explanation_["n_labels"] == 5 and det.explanation_["evidence"] == "labels"
    unsupervised = [c for c in det.candidates_ if not c.get("semi_supervised")]
    assert len(unsupervised) == 7  # every planted configuration, at most 2 per family (ecod has one)
    # ... and the detectors that learn from the labels (meta/labelled.py), judged by cross-fitted evidence
    assert sorted(c["family"] for c in det.candidates_ if c.get("semi_supervised")) == ["devnet", "stacked"]
    for cand in unsupervised:  # each candidate judged by its own AUROC on the known anomalies
        expected = roc_auc_score(y, metaad.make_detector(cand["family"], **{k: tuple(v) if isinstance(v, list) else v
                                 for k, v in cand["params"].items()}, random_state=0).fit(X).decision_scores_)
        assert cand["label_auroc"] == pytest.approx(expected, abs=1e-3)
    from metaad.meta.labelled import prefer_stacked

    judged = sorted((c for c in det.candidates_ if c["posterior"] >= 0), key=lambda c: (-c["posterior"], c["rank"]))
    assert det.selected_["config_id"] == prefer_stacked(judged)[0]["config_id"]  # prior_strength 0: the labels decide
    assert "known anomalies" in det.explanation_html()
    unlabelled = AutoDetector(knowledge=knowledge, random_state=0).fit(X, np.zeros(len(X)))
    assert unlabelled.explanation_["n_labels"] == 0


def test_labels_on_a_large_table_judge_a_sample_that_keeps_every_known_anomaly(knowledge) -> None:
    rng = np.random.RandomState(0)
    X = rng.normal(size=(12_000, 4))
    X[:5] += 6
    y = np.zeros(len(X), dtype=int)
    y[:5] = 1
    det = AutoDetector(knowledge=knowledge, random_state=0).fit(X, y)
    assert "5000-row sample that keeps every known anomaly" in det.explanation_["confidence_reason"]
    assert det.decision_scores_.shape == (12_000,) and det.decision_scores_[:5].min() > np.median(det.decision_scores_)


def test_large_tables_fit_a_sample_and_score_every_row(knowledge) -> None:
    X = np.random.RandomState(1).normal(size=(9000, 3))
    det = AutoDetector(knowledge=knowledge, evidence="none", random_state=0).fit(X)
    fitted_rows = [getattr(d, "n_samples_fit_", None) or len(d.decision_scores_) for d in det.detectors_]
    assert all(n == 5000 for n in fitted_rows)
    assert det.decision_scores_.shape == (9000,) and abs(det.labels_.mean() - 0.1) < 0.01
    np.testing.assert_allclose(det.decision_function(X[6000:]), det.decision_scores_[6000:], atol=0, rtol=0) \
        if len(det.detectors_) == 1 and det.selected_["family"] == "iforest" else None


def test_rank_ensemble_saves_and_loads(knowledge, X, tmp_path) -> None:
    det = AutoDetector(knowledge=knowledge, hedge_margin=1.0, random_state=0).fit(X)
    loaded = metaad.load(metaad.save(det, tmp_path / "model"))
    np.testing.assert_array_equal(loaded.decision_function(X), det.decision_function(X))
    assert loaded.selected_ == det.selected_ and loaded.explanation_html() == det.explanation_html()
    assert json.loads((tmp_path / "model" / "detector.json").read_text())["fitted"]["ensemble"] == det.ensemble_


def test_an_ensemble_fitted_on_a_sample_loads_with_the_same_scores(knowledge, X, tmp_path) -> None:
    """Members fitted on max_fit_rows rows are ranked against every training row's scores, saved with the model."""
    det = AutoDetector(knowledge=knowledge, hedge_margin=1.0, max_fit_rows=len(X) // 3, random_state=0).fit(X)
    assert len(det.detectors_) > 1
    loaded = metaad.load(metaad.save(det, tmp_path / "model"))
    np.testing.assert_allclose(loaded.decision_function(X), det.decision_function(X), rtol=0, atol=1e-12)


def test_families_restrict_the_choice_and_bad_parameters_are_named(knowledge, X) -> None:
    det = AutoDetector(knowledge=knowledge, families=("ecod",), random_state=0).fit(X)
    assert det.selected_["family"] == "ecod"
    with pytest.raises(ParameterError, match="families"):
        AutoDetector(knowledge=knowledge, families=("nope",)).fit(X)
    with pytest.raises(ParameterError, match="evidence"):
        AutoDetector(evidence="magic").fit(X)
    with pytest.raises(ParameterError, match="max_fit_rows"):
        AutoDetector(max_fit_rows=0).fit(X)


def test_select_ranks_with_reasons_and_cost(knowledge, X) -> None:
    recs = select(X, top=4, knowledge=knowledge)
    assert recs["rank"].tolist() == [1, 2, 3, 4] and recs["family"].iloc[0] == "knn"
    assert recs["predicted_auroc"].between(0, 1).all() and (recs["predicted_seconds"] > 0).all()
    assert all(r.startswith(f"#{i}") for i, r in zip(recs["rank"], recs["reason"]))
    rng = np.random.RandomState(0)
    assert len(select(rng.normal(size=(200, 1)), top=3, knowledge=knowledge)) == 3
    with pytest.raises(DataError, match="5 rows are too few"):
        select(rng.normal(size=(5, 4)), knowledge=knowledge)
    with pytest.raises(DataError, match="constant"):
        select(np.ones((50, 3)), knowledge=knowledge)
    with pytest.raises(ParameterError, match="top"):
        select(rng.normal(size=(50, 3)), top=0, knowledge=knowledge)


def test_label_and_validation_errors_name_the_problem(knowledge, X) -> None:
    det = AutoDetector(knowledge=knowledge, random_state=0)
    y_val = np.r_[np.zeros(20), np.ones(5)]
    with pytest.raises(ParameterError, match="both X_val and y_val"):
        det.fit(X, X_val=X[:25])
    with pytest.raises(ParameterError, match="not both"):
        det.fit(X, np.r_[1, np.zeros(len(X) - 1)], X_val=X[:25], y_val=y_val)
    with pytest.raises(DataError, match="both normal rows"):
        det.fit(X, X_val=X[:25], y_val=np.zeros(25))
    with pytest.raises(DataError, match="row 3 holds 2.0"):
        det.fit(X, X_val=X[:25], y_val=np.r_[0, 0, 1, 2, np.zeros(21)])
    with pytest.raises(DataError, match="24 labels for 25"):
        det.fit(X, X_val=X[:25], y_val=y_val[:24])
    with pytest.raises(DataError, match=r"y must be 0 \(unknown\) or 1 \(known anomaly\); row 1 holds 2"):
        det.fit(X, np.r_[0, 2, np.zeros(len(X) - 2)])
    with pytest.raises(DataError, match="row 0 holds 0.5"):
        det.fit(X, np.r_[0.5, np.zeros(len(X) - 1)])


def test_a_labelled_validation_set_reranks_the_candidates(knowledge, X) -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.RandomState(1)
    X_val = rng.normal(size=(100, 8))
    y_val = np.zeros(100, dtype=int)
    y_val[:8] = 1
    X_val[:8] += 5
    det = AutoDetector(knowledge=knowledge, random_state=0).fit(X, X_val=X_val, y_val=y_val)
    assert det.explanation_["n_labels"] == 8 and det.explanation_["evidence"] == "validation"
    chosen = next(c for c in det.candidates_ if c["config_id"] == det.selected_["config_id"])
    assert chosen["label_auroc"] == pytest.approx(roc_auc_score(y_val, det.detectors_[0].decision_function(X_val)), abs=1e-4)
    assert "validation set" in det.explanation_html()


@pytest.mark.slow
def test_a_wide_table_is_chosen_for_with_bounded_memory() -> None:
    """300 x 10,000 built 10k x 10k matrices (4.7 GB) in the meta-features and the synthetic evidence (issue 12)."""
    import tracemalloc

    X = np.random.RandomState(0).normal(size=(300, 10_000))
    tracemalloc.start()
    det = AutoDetector(random_state=0).fit(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 600e6, f"{peak / 1e6:.0f} MB"
    assert det.decision_scores_.shape == (300,)


def test_a_slow_scoring_member_is_kept_out_of_a_large_table(knowledge, monkeypatch) -> None:
    from metaad.meta import selection as steps

    monkeypatch.setattr(steps, "LARGE_TABLE_ROWS", 2000)  # "large" from 2,000 rows, to keep the test fast
    rng = np.random.RandomState(2)
    X = rng.normal(size=(3000, 8))  # wide: the planted knowledge favours knn; 3,000 reference rows: 30 us a row
    X[:100] += 4
    free = AutoDetector(knowledge=knowledge, evidence="none", hedge_margin=0.0, min_score_rate=None, random_state=0).fit(X)
    assert free.selected_["family"] == "knn"  # chosen without the floor
    large = AutoDetector(knowledge=knowledge, evidence="none", hedge_margin=0.0, random_state=0).fit(X)
    assert large.selected_["family"] not in steps.INSTANCE_BASED
    assert all(c["family"] not in steps.INSTANCE_BASED and c["score_us"] <= 20.0 for c in large.candidates_)
    hedged = AutoDetector(knowledge=knowledge, evidence="none", hedge_margin=1.0, random_state=0).fit(X)
    members = [next(c for c in hedged.candidates_ if c["config_id"] == m) for m in hedged.ensemble_]
    assert sum(m["score_us"] for m in members) <= 1e6 / 50_000  # the ensemble's estimated rate >= min_score_rate
    with pytest.raises(ParameterError, match="min_score_rate"):
        AutoDetector(min_score_rate=0).fit(X[:100])


def test_on_a_large_table_the_evidence_fits_are_the_final_members(knowledge, monkeypatch) -> None:
    from metaad.meta import selection as steps

    built = []
    original = steps.build_detector
    monkeypatch.setattr(steps, "build_detector", lambda *a, **k: built.append(a[0]["config_id"]) or original(*a, **k))
    X = np.random.RandomState(1).normal(size=(6000, 3))
    det = AutoDetector(knowledge=knowledge, hedge_margin=1.0, random_state=0).fit(X)
    assert sorted(built) == sorted(c["config_id"] for c in det.candidates_)  # each candidate fitted once, no refit
    assert len(det.detectors_) == 3 and all(len(d.decision_scores_) == 5000 for d in det.detectors_)
    assert det.decision_scores_.shape == (6000,) and abs(det.labels_.mean() - 0.1) < 0.01
    # rows the members were not fitted on are scored as new data
    same = np.isclose(det._combine([d.decision_function(X) for d in det.detectors_]), det.decision_scores_, rtol=0, atol=1e-12)
    assert same.sum() >= 1000


def test_auto_does_not_warn_about_epochs_its_zoo_configurations_asked_for(recwarn):
    """A zoo autoencoder's n_epochs cut by the step budget is not the user's doing: no EpochsCutWarning."""
    from metaad.detectors import make_detector
    from metaad.exceptions import EpochsCutWarning

    X = np.random.RandomState(0).normal(size=(3000, 4))  # 10 epochs of 32-row batches: more than 250 steps
    with pytest.warns(EpochsCutWarning):  # the warning exists when a user asks for the epochs
        make_detector("autoencoder", n_epochs=50, max_steps=5, random_state=0).fit(X)
    recwarn.clear()
    detector = AutoDetector(families=["autoencoder"], n_candidates=1, ensemble_size=1, random_state=0)
    detector.fit(X)
    assert not [w for w in recwarn if issubclass(w.category, EpochsCutWarning)]
