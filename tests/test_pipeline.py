"""AnomalyPipeline: schema saved with the model and enforced when scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import metaad
from metaad.exceptions import SchemaError


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.RandomState(0)
    return pd.DataFrame(
        {"amount": rng.lognormal(size=300), "hour": rng.randint(0, 24, 300), "country": rng.choice(["fr", "de", "es"], 300)}
    )


def test_round_trip_with_categories(frame, tmp_path) -> None:
    pipe = metaad.AnomalyPipeline(metaad.make_detector("autoencoder", n_epochs=2, random_state=0)).fit(frame)
    loaded = metaad.load(metaad.save(pipe, tmp_path / "p"))
    np.testing.assert_array_equal(loaded.decision_function(frame), pipe.decision_function(frame))
    assert loaded.schema_.names == ["amount", "hour", "country"]
    explanation = pipe.explain(frame.head(5))
    assert list(explanation.columns) == ["amount", "hour", "country"]
    np.testing.assert_allclose(explanation.sum(axis=1), pipe.decision_function(frame.head(5)), rtol=1e-5)  # additive


def test_schema_is_enforced(frame) -> None:
    pipe = metaad.AnomalyPipeline(metaad.make_detector("ecod")).fit(frame)
    with pytest.raises(SchemaError, match="country"):
        pipe.decision_function(frame.drop(columns="country"))
    with pytest.raises(SchemaError, match="extra"):
        pipe.decision_function(frame.assign(extra=1.0))
    bad = frame.astype({"amount": object})
    bad.loc[7, "amount"] = "abc"
    with pytest.raises(SchemaError, match="amount"):
        pipe.decision_function(bad)


def test_one_row_as_dict_or_series_and_sklearn_habits(frame) -> None:
    pipe = metaad.AnomalyPipeline(metaad.make_detector("knn")).fit(frame)
    expected = pipe.decision_function(frame.iloc[[4]])
    np.testing.assert_allclose(pipe.decision_function(frame.iloc[4]), expected)
    np.testing.assert_allclose(pipe.decision_function(frame.iloc[4].to_dict()), expected)
    assert pipe.predict({"country": "fr", "hour": 3, "amount": 1.0}).shape == (1,)
    with pytest.raises(SchemaError, match="country"):
        pipe.decision_function({"amount": 1.0, "hour": 3})
    np.testing.assert_array_equal(pipe.score_samples(frame), -pipe.decision_function(frame))
    proba = pipe.predict_proba(frame)
    assert proba.shape == (len(frame), 2) and np.allclose(proba.sum(axis=1), 1)
    order = np.argsort(pipe.decision_function(frame))
    assert np.all(np.diff(proba[order, 1]) >= -1e-12)
    assert pipe.predict_confidence(frame).shape == (len(frame),)


def test_detect_in_one_call_finds_the_planted_row(frame) -> None:
    df = frame.copy()
    df.loc[17, "amount"] = 400.0
    df.loc[42, "country"] = "zz"
    found = metaad.detect(df, "knn", contamination=0.05)
    assert found.detector == "knn" and isinstance(found.pipeline, metaad.AnomalyPipeline)
    assert found.scores.index.equals(df.index) and found.scores.idxmax() == 17
    assert found.top(2).index[0] == 17 and "score" in found.top(2).columns
    assert found.is_anomaly.sum() == pytest.approx(0.05 * len(df), abs=2)
    assert bool(found.is_anomaly[17])
    assert found.pipeline.predict(df.loc[[17, 18]]).tolist() == [1, 0]  # ready to score new rows
    auto = metaad.detect(df)  # the default: auto names the family it chose
    assert auto.detector in metaad.list_detectors() and auto.detector != "auto"


def test_select_accepts_a_mixed_type_dataframe(frame) -> None:
    """The API used to fail on text columns that `metaad select` handles; both now preprocess alike."""
    from metaad.data.preprocessing import TabularPreprocessor

    with_gaps = frame.astype({"amount": float})
    with_gaps.loc[3, "amount"] = np.nan
    with pytest.warns(UserWarning, match="amount"):
        recs = metaad.select(with_gaps, top=3)
    assert recs["rank"].tolist() == [1, 2, 3]
    with pytest.warns(UserWarning):
        as_cli = metaad.select(TabularPreprocessor(missing="impute").fit_transform(with_gaps), top=3)
    assert recs["config_id"].tolist() == as_cli["config_id"].tolist()
