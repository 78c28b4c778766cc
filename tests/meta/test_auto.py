"""AutoDetector, select() and the user's knowledge: behaviour on a small knowledge folder built in the test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metaad
from metaad.exceptions import DataError, ParameterError
from metaad.meta.auto import AutoDetector
from metaad.meta.recommend import select
from metaad.meta.user_knowledge import add_knowledge, load_selection_data
from metaad.meta.zoo import get_zoo


def write_results(folder: Path, n_datasets: int = 6, prefix: str = "toy") -> tuple[pd.DataFrame, Path]:
    """Small datasets (npz) and planted results of real zoo configurations: wide tables favour knn."""
    rng = np.random.RandomState(0)
    data_dir = folder / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    zoo = get_zoo("default-v1", families=["iforest", "knn", "ecod", "hbos"])
    configs = [c for f in ("iforest", "knn", "ecod", "hbos") for c in [c for c in zoo if c.family == f][:3]]
    rows = []
    for i in range(n_datasets):
        wide = i % 2 == 0
        X = rng.normal(size=(120, 8 if wide else 3))
        y = np.r_[np.zeros(110), np.ones(10)]
        X[y == 1] += 4
        name = f"{prefix}{i}"
        np.savez(data_dir / f"{name}.npz", X=X, y=y)
        for cfg in configs:
            good = (cfg.family == "knn") == wide
            auroc = 0.9 if good else 0.7
            rows.append({**cfg.to_dict(), "dataset": name, "seed": 0, "auroc": auroc + 0.01 * rng.rand(),
                         "average_precision": auroc - 0.3, "status": "ok"})
    return pd.DataFrame(rows), data_dir


@pytest.fixture(scope="module")
def knowledge_dir(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("knowledge")
    results, data_dir = write_results(folder)
    add_knowledge(results, [data_dir], user_dir=folder / "user")
    return str(folder / "user")


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 8))
    X[:15] += 5
    return X


def test_selected_is_a_zoo_configuration_and_explained(knowledge_dir, X) -> None:
    det = AutoDetector(knowledge_dir=knowledge_dir, random_state=0).fit(X)
    zoo = {c.config_id: c for c in get_zoo("default-v1")}
    sel = det.selected_
    assert sel["config_id"] in zoo
    assert zoo[sel["config_id"]].family == sel["family"] and zoo[sel["config_id"]].params == sel["params"]
    assert det.detectors_[0].registry_name == sel["family"]
    assert det.candidates_[0]["config_id"] == sel["config_id"]
    assert len(det.candidates_) == 5
    families = [c["family"] for c in det.candidates_]
    assert max(families.count(f) for f in families) <= 2  # max_per_family
    similar = det.explanation_["similar_datasets"]
    assert len(similar) == 3 and similar[0]["distance"] <= similar[-1]["distance"]
    html = det.explanation_html()
    assert sel["config_id"] in html and similar[0]["dataset"] in html and "<script" not in html
    np.testing.assert_array_equal(det.decision_scores_, det.detectors_[0].decision_scores_)


def test_a_few_labels_rerank_the_candidates(knowledge_dir, X) -> None:
    y = np.zeros(len(X), dtype=int)
    y[:5] = 1
    det = AutoDetector(knowledge_dir=knowledge_dir, random_state=0).fit(X, y)
    assert det.explanation_["n_labels"] == 5
    assert len(det.candidates_) == 20  # with labels 20 candidates (5 without), at most 2 per family
    assert all("label_auroc" in c and "posterior" in c for c in det.candidates_)
    posteriors = [c["posterior"] for c in det.candidates_]
    assert posteriors == sorted(posteriors, reverse=True)
    assert det.selected_["config_id"] == det.candidates_[0]["config_id"]
    assert "known anomalies" in det.explanation_html()
    unlabelled = AutoDetector(knowledge_dir=knowledge_dir, random_state=0).fit(X, np.zeros(len(X)))
    assert unlabelled.explanation_["n_labels"] == 0


def test_rank_ensemble_saves_and_loads(knowledge_dir, X, tmp_path) -> None:
    det = AutoDetector(knowledge_dir=knowledge_dir, ensemble_size=3, random_state=0).fit(X)
    assert len(det.detectors_) == 3 and len(det.ensemble_) == 3
    assert abs(det.labels_.mean() - 0.1) <= 0.05
    loaded = metaad.load(metaad.save(det, tmp_path / "model"))
    np.testing.assert_array_equal(loaded.decision_function(X), det.decision_function(X))
    assert loaded.selected_ == det.selected_ and loaded.explanation_html() == det.explanation_html()
    assert json.loads((tmp_path / "model" / "detector.json").read_text())["fitted"]["ensemble"] == det.ensemble_


def test_families_restrict_the_choice(knowledge_dir, X) -> None:
    det = AutoDetector(knowledge_dir=knowledge_dir, families=("ecod",), random_state=0).fit(X)
    assert det.selected_["family"] == "ecod"
    with pytest.raises(ParameterError, match="families"):
        AutoDetector(knowledge_dir=knowledge_dir, families=("nope",)).fit(X)
    with pytest.raises(ParameterError, match="ensemble_size"):
        AutoDetector(ensemble_size=9, n_candidates=2).fit(X)


def test_select_ranks_with_reasons(knowledge_dir, X) -> None:
    recs = select(X, top=4, knowledge_dir=knowledge_dir)
    assert recs["rank"].tolist() == [1, 2, 3, 4]
    assert recs["predicted_auroc"].between(0, 1).all()
    assert all(r.startswith(f"#{i}") for i, r in zip(recs["rank"], recs["reason"]))
    assert recs["config_id"].is_unique


def test_select_on_one_column_answers_and_on_five_rows_is_a_clear_error(knowledge_dir) -> None:
    rng = np.random.RandomState(0)
    recs = select(rng.normal(size=(200, 1)), top=3, knowledge_dir=knowledge_dir)
    assert len(recs) == 3
    with pytest.raises(DataError, match="5 rows are too few"):
        select(rng.normal(size=(5, 4)), knowledge_dir=knowledge_dir)
    with pytest.raises(DataError, match="constant"):
        select(np.ones((50, 3)), knowledge_dir=knowledge_dir)
    with pytest.raises(ParameterError, match="top"):
        select(rng.normal(size=(50, 3)), top=0, knowledge_dir=knowledge_dir)


def test_knowledge_add_extends_the_datasets(tmp_path) -> None:
    results, data_dir = write_results(tmp_path, n_datasets=4, prefix="mine")
    user = tmp_path / "user"
    try:
        before = len(load_selection_data(user_dir=user).datasets)
    except DataError:  # no shipped knowledge base installed
        before = 0
    info = add_knowledge(results[results["dataset"].isin(["mine0", "mine1"])], [data_dir], user_dir=user)
    assert info["n_datasets"] == before + 2
    info = add_knowledge(results, [data_dir], user_dir=user)
    assert info["n_datasets"] == before + 4 and info["added_datasets"] == ["mine0", "mine1", "mine2", "mine3"]
    assert len(pd.read_parquet(user / "results.parquet")) == len(results)  # no duplicated rows
    with pytest.raises(DataError, match="not found in --data"):
        add_knowledge(results.assign(dataset="elsewhere"), [data_dir], user_dir=user)
    with pytest.raises(DataError, match="lack column"):
        add_knowledge(results.drop(columns="auroc"), [data_dir], user_dir=user)


def test_a_labelled_validation_set_reranks_the_candidates(knowledge_dir, X) -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.RandomState(1)
    X_val = rng.normal(size=(100, 8))
    y_val = np.zeros(100, dtype=int)
    y_val[:8] = 1
    X_val[:8] += 5
    det = AutoDetector(knowledge_dir=knowledge_dir, random_state=0).fit(X, X_val=X_val, y_val=y_val)
    assert det.explanation_["n_labels"] == 8 and det.explanation_["evidence"] == "validation"
    for cand in det.candidates_:  # each candidate was judged on the validation rows, not on X
        if cand["config_id"] == det.selected_["config_id"]:
            expected = roc_auc_score(y_val, det.detectors_[0].decision_function(X_val))
            assert cand["label_auroc"] == pytest.approx(expected, abs=1e-4)
    posteriors = [c["posterior"] for c in det.candidates_]
    assert posteriors == sorted(posteriors, reverse=True)
    assert "validation set" in det.explanation_html()


def test_validation_set_errors_name_the_problem(knowledge_dir, X) -> None:
    det = AutoDetector(knowledge_dir=knowledge_dir, random_state=0)
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
    with pytest.raises(DataError):  # the validation rows must have X's columns
        det.fit(X, X_val=X[:25, :3], y_val=y_val)
