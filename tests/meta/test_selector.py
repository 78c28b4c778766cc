"""The selector, its cost model and its leave-one-dataset-out evaluation, on planted knowledge."""

from __future__ import annotations

import numpy as np
import pytest

from metaad.exceptions import DataError, NotFittedError, ParameterError
from metaad.meta.evidence import blend_with_evidence, label_evidence
from metaad.meta.knowledge import KnowledgeBase, synthetic_knowledge
from metaad.meta.lodo import held_out_group, leave_one_dataset_out, summarize_lodo
from metaad.meta.selector import Selector


@pytest.fixture(scope="module")
def planted() -> KnowledgeBase:
    return synthetic_knowledge(n_datasets=30, sizes=(500, 5000), random_state=0)


def test_knn_selector_beats_random_and_global_best_on_planted_structure(planted) -> None:
    table = leave_one_dataset_out(planted, lambda: Selector(model="knn", shrinkage=1.0, cost_weight=0.0),
                                  datasets=planted.datasets[:12], groups={})
    summary = summarize_lodo(table)
    assert summary.loc["selected", "auroc"] > summary.loc["global_best", "auroc"] + 0.02
    assert summary.loc["selected", "auroc"] > summary.loc["random", "auroc"] + 0.02
    assert summary.loc["oracle", "auroc"] >= summary.loc["selected", "auroc"]
    assert len(table) == 24 and set(table["n_rows"]) == {500, 5000}  # every task of a held-out dataset


def test_ranking_puts_the_planted_winner_first(planted) -> None:
    selector = Selector(model="knn", shrinkage=1.0, cost_weight=0.0).fit(planted)
    knn_favoured = planted.meta_features[planted.meta_features["f0"] > 1].index[0]
    iforest_favoured = planted.meta_features[planted.meta_features["f0"] < -1].index[0]
    assert selector.rank(planted.meta_features.loc[knn_favoured].to_dict())["family"].iloc[0] == "knn"
    assert selector.rank(planted.meta_features.loc[iforest_favoured].to_dict())["family"].iloc[0] == "iforest"


def test_global_model_is_the_mean_deviation_ranking(planted) -> None:
    selector = Selector(model="global", cost_weight=0.0).fit(planted)
    ranking = selector.rank(planted.meta_features.iloc[0].to_dict())
    deviation = planted.performance.sub(planted.performance.mean(axis=1), axis=0).mean()
    assert ranking["config_id"].iloc[0] == deviation.idxmax()
    assert ranking["score"].is_monotonic_decreasing and ranking["rank"].tolist() == list(range(1, len(ranking) + 1))


def test_cost_model_extrapolates_and_penalizes_slow_configurations(planted) -> None:
    selector = Selector(model="global", cost_weight=0.0).fit(planted)
    big = dict(planted.meta_features.iloc[0], **{"shape.log_rows": np.log(2_000_000)})
    seconds = dict(zip(selector.config_ids_, selector.predict_seconds(big)[0]))
    knn = np.mean([v for k, v in seconds.items() if k.startswith("knn")])
    ecod = np.mean([v for k, v in seconds.items() if k.startswith("ecod")])
    assert knn / ecod > 1e3  # knn's planted cost grows with rows squared, ecod's linearly
    free = selector.rank(big)
    costly = Selector(model="global", cost_weight=0.2).fit(planted).rank(big)
    assert free["family"].iloc[0] != "ecod" or costly["family"].iloc[0] == "ecod"
    assert (costly.head(5)["family"] != "knn").sum() >= (free.head(5)["family"] != "knn").sum()


def test_lodo_never_trains_on_the_held_out_dataset_or_its_group(planted) -> None:
    seen = []

    class Spy(Selector):
        def fit(self, knowledge):  # noqa: ANN001
            seen.append(set(knowledge.datasets))
            return super().fit(knowledge)

    groups = {"d01": "d00"}
    leave_one_dataset_out(planted, lambda: Spy(model="global"), datasets=["d00", "d05"], groups=groups)
    assert "d00" not in seen[0] and "d01" not in seen[0] and "d05" not in seen[1] and "d01" in seen[1]
    assert held_out_group(planted, "d01", groups) == ["d00", "d01"]


def test_prediction_ignores_unknown_and_fills_missing_features(planted) -> None:
    selector = Selector().fit(planted)
    row = planted.meta_features.iloc[3].to_dict()
    partial = {k: v for k, v in list(row.items())[:3]} | {"unknown": 1.0}
    assert len(selector.rank(partial)) == planted.performance.shape[1]


def test_selector_errors_are_clear(planted) -> None:
    with pytest.raises(ParameterError, match="unknown model"):
        Selector(model="mf").fit(planted)
    with pytest.raises(ParameterError, match="shrinkage"):
        Selector(shrinkage=2.0).fit(planted)
    with pytest.raises(DataError, match="at least 2 datasets"):
        Selector().fit(planted.select_tasks(["d00@500", "d00@5000"]))
    with pytest.raises(NotFittedError):
        Selector().rank({"f0": 0.0})


def test_label_evidence_and_blend() -> None:
    assert label_evidence(np.array([0.1, 0.2, 0.9]), np.array([0, 0, 1]))["auroc"] == 1.0
    assert np.isnan(label_evidence(np.array([0.1, 0.2]), np.array([0, 0]))["auroc"])
    predicted, observed = {"a": 0.8, "b": 0.7}, {"a": 0.6, "b": 0.95}
    few = blend_with_evidence(predicted, observed, n_labels=1, prior_strength=10)
    many = blend_with_evidence(predicted, observed, n_labels=100, prior_strength=10)
    assert few["a"] > few["b"] and many["b"] > many["a"]
    assert blend_with_evidence(predicted, {"a": float("nan")}, n_labels=5) == {"a": 0.8, "b": 0.7}


def test_held_out_seed_oracle_separates_split_noise_from_a_real_winner() -> None:
    import pandas as pd

    from metaad.meta.lodo import held_out_seed_oracle

    rng = np.random.RandomState(0)
    rows = []
    for seed in range(3):
        for c in range(50):  # "noisy": 50 equal configurations (true AUROC 0.7) measured with noise 0.05
            rows.append(("noisy", f"c{c}", seed, 0.7 + 0.05 * rng.normal(), "ok"))
        rows.append(("winner", "best", seed, 0.95, "ok"))  # "winner": one configuration truly better
        rows.append(("winner", "other", seed, 0.6, "ok"))
    frame = pd.DataFrame(rows, columns=["dataset", "config_id", "seed", "auroc", "status"])
    oracles = held_out_seed_oracle(frame)
    noisy, winner = oracles.loc["noisy"], oracles.loc["winner"]
    assert noisy["single_seed"] > noisy["hindsight"] > noisy["held_out_seed"]
    assert abs(noisy["held_out_seed"] - 0.7) < 0.05
    assert winner.tolist() == pytest.approx([0.95, 0.95, 0.95])
    with pytest.raises(ParameterError, match="at least 2 seeds"):
        held_out_seed_oracle(frame[frame["seed"] == 0])
