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
