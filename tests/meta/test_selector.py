"""The selector, its leave-one-dataset-out evaluation, the meta-features it uses and the label evidence."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from metaad.exceptions import DataError, NotFittedError, ParameterError
from metaad.meta.labels_evidence import blend_with_evidence, label_evidence
from metaad.meta.landmarks import selection_features
from metaad.meta.lodo import leave_one_dataset_out, summarize
from metaad.meta.selector import (
    MODELS,
    SelectionData,
    Selector,
    configuration_features,
    synthetic_selection_data,
)


@pytest.fixture(scope="module")
def planted() -> SelectionData:
    return synthetic_selection_data(n_datasets=30, random_state=0)


@pytest.mark.parametrize("model", ["knn", "mf", "lgbm"])
def test_selector_beats_random_and_global_best_on_planted_structure(planted, model) -> None:
    table = leave_one_dataset_out(planted, lambda: Selector(model=model), datasets=planted.datasets[:12])
    summary = summarize(table)
    assert summary.loc["selected", "auroc"] > summary.loc["random", "auroc"] + 0.03
    assert summary.loc["selected", "auroc"] > summary.loc["global_best", "auroc"] + 0.01
    assert summary.loc["selected", "gap_closed_auroc"] > 0.3


def test_global_model_is_the_global_best(planted) -> None:
    table = leave_one_dataset_out(planted, lambda: Selector(model="global"))
    assert (table["selected"] == table["global_best"]).all()


class SpySelector(Selector):
    """Records the datasets each fit sees."""

    seen: ClassVar[list[list[str]]] = []

    def fit(self, data: SelectionData) -> Selector:
        SpySelector.seen.append(list(data.datasets))
        return super().fit(data)


def test_lodo_never_trains_on_the_held_out_dataset_or_its_group(planted) -> None:
    SpySelector.seen = []
    groups = {"d01": "d00"}  # d00 and d01 are two versions of one dataset
    table = leave_one_dataset_out(planted, lambda: SpySelector(model="knn"), groups=groups)
    assert len(SpySelector.seen) == len(planted.datasets) == len(table)
    for held_out, trained_on in zip(table["dataset"], SpySelector.seen):
        assert held_out not in trained_on
        assert len(trained_on) == len(planted.datasets) - (2 if held_out in ("d00", "d01") else 1)
        if held_out in ("d00", "d01"):
            assert not {"d00", "d01"} & set(trained_on)


def test_rank_covers_every_configuration_once(planted) -> None:
    ranking = Selector(model="knn").fit(planted).rank(planted.features.iloc[3].to_dict())
    assert sorted(ranking["config_id"]) == sorted(planted.configurations.index)
    assert ranking["rank"].tolist() == list(range(1, len(ranking) + 1))
    assert ranking["score"].is_monotonic_decreasing
    assert ranking["predicted_auroc"].between(0, 1).all()


def test_prediction_ignores_unknown_and_fills_missing_features(planted) -> None:
    selector = Selector(model="knn").fit(planted)
    row = planted.features.iloc[0].to_dict()
    a = selector.predict_deviation(row)
    b = selector.predict_deviation({**row, "unknown": 3.0})
    np.testing.assert_allclose(a, b)
    partial = {k: v for k, v in row.items() if k != "f5"}
    assert np.isfinite(selector.predict_deviation(partial)).all()


def test_selector_errors_are_clear(planted) -> None:
    with pytest.raises(ParameterError, match="model"):
        Selector(model="bogus").fit(planted)
    with pytest.raises(ParameterError, match="shrinkage"):
        Selector(shrinkage=2.0).fit(planted)
    with pytest.raises(NotFittedError):
        Selector().rank({"f0": 0.0})
    with pytest.raises(DataError, match="at least 2"):
        Selector().fit(planted.drop(planted.datasets[1:]))
    assert set(MODELS) == {"global", "knn", "mf", "lgbm"}


def test_configuration_features_encode_family_and_parameters(planted) -> None:
    table = configuration_features(planted.configurations)
    assert {"family=knn", "family=iforest", "p.size"} <= set(table.columns)
    assert np.isfinite(table.to_numpy()).all()


def test_selection_features_on_awkward_shapes() -> None:
    rng = np.random.RandomState(0)
    one_column = selection_features(rng.normal(size=(100, 1)), include_base=False)
    five_rows = selection_features(rng.normal(size=(5, 4)), include_base=False)
    assert one_column.keys() == five_rows.keys()
    assert all(np.isfinite(v) for v in [*one_column.values(), *five_rows.values()])
    X = rng.normal(size=(3000, 6))
    assert selection_features(X, include_base=False) == selection_features(X, include_base=False)
    bad = X.copy()
    bad[7, 2] = np.nan
    with pytest.raises(DataError, match="row 7, column 2"):
        selection_features(bad)
    with pytest.raises(DataError, match="2-D"):
        selection_features(X[:, 0])


def test_landmarkers_see_planted_outliers() -> None:
    rng = np.random.RandomState(1)
    calm = rng.normal(size=(500, 5))
    spiky = calm.copy()
    spiky[:25] += 8.0
    a = selection_features(calm, include_base=False)
    b = selection_features(spiky, include_base=False)
    assert b["lm.knn.q99_gap"] > a["lm.knn.q99_gap"]
    assert b["lm.iforest.tail3"] >= a["lm.iforest.tail3"]


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
    assert abs(noisy["held_out_seed"] - 0.7) < 0.05  # choosing on other splits recovers only the true mean
    assert noisy["single_seed"] > 0.78  # the max of 50 noisy values is far above it
    assert winner.tolist() == pytest.approx([0.95, 0.95, 0.95])
    with pytest.raises(ParameterError, match="at least 2 seeds"):
        held_out_seed_oracle(frame[frame["seed"] == 0])
