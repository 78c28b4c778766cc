"""Per-feature explanations: the detectors' own (deep) and the model-agnostic rule (everything else)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import metaad
from metaad.detectors.classical import CLASSICAL_SPECS
from metaad.evaluation.explain import explain, replacement_contributions, training_reference
from metaad.exceptions import DataError, NotFittedError, ParameterError


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 5))
    probes = np.zeros((5, 5))
    probes[np.arange(5), np.arange(5)] = 7.0  # probe i is typical except far out in feature i
    return X, probes


@pytest.mark.parametrize("name", [spec.name for spec in CLASSICAL_SPECS])
def test_model_agnostic_rule_names_the_odd_feature(name, data):
    X, probes = data
    det = metaad.make_detector(name, random_state=0).fit(X)
    assert not hasattr(det, "explain")
    contributions = explain(det, probes)
    assert contributions.shape == (5, 5)
    np.testing.assert_array_equal(contributions.argmax(axis=1), np.arange(5))
    np.testing.assert_allclose(contributions, replacement_contributions(det, probes))


def test_replacement_contribution_is_the_score_drop(data):
    X, probes = data
    det = metaad.make_detector("knn").fit(X)
    reference = np.median(X, axis=0)
    np.testing.assert_allclose(training_reference(det), reference)
    row = probes[2:3]
    replaced = row.copy()
    replaced[0, 2] = reference[2]
    expected = det.decision_function(row) - det.decision_function(replaced)
    assert replacement_contributions(det, row)[0, 2] == pytest.approx(expected[0])
    # an explicit reference is used as given; the chunking does not change the result
    zero = replacement_contributions(det, probes, reference=np.zeros(5))
    import metaad.evaluation.explain as module

    small_chunks = pytest.MonkeyPatch()
    small_chunks.setattr(module, "CHUNK_ROWS", 7)
    try:
        np.testing.assert_allclose(replacement_contributions(det, probes, reference=np.zeros(5)), zero)
    finally:
        small_chunks.undo()


@pytest.mark.parametrize("name", ["autoencoder", "vae", "wgan"])
def test_reconstruction_detectors_explain_their_own_score(name, data):
    X, probes = data
    params = {"n_epochs": 5, "random_state": 0}
    if name == "vae":
        params["score_type"] = "reconstruction"
    if name == "wgan":
        params.update(kappa=0.0, encoder_epochs=5)
    det = metaad.make_detector(name, **params).fit(X)
    contributions = explain(det, probes)
    np.testing.assert_allclose(contributions, det.explain(probes))
    np.testing.assert_allclose(contributions.sum(axis=1), det.decision_function(probes), rtol=1e-5)  # additive
    np.testing.assert_array_equal(contributions.argmax(axis=1), np.arange(5))


def test_vae_elbo_contributions_leave_the_kl_term_out(data):
    X, probes = data
    elbo = metaad.make_detector("vae", n_epochs=3, random_state=0).fit(X)
    reconstruction = elbo.explain(probes).sum(axis=1)
    assert np.all(elbo.decision_function(probes) > reconstruction)  # score = reconstruction + KL > reconstruction


@pytest.mark.parametrize("name", ["deep_svdd", "devnet"])
def test_other_deep_detectors_get_the_model_agnostic_rule(name, data):
    X, probes = data
    y = np.zeros(len(X), dtype=int)
    y[np.argsort(-np.abs(X).max(axis=1))[:5]] = 1
    det = metaad.make_detector(name, random_state=0, n_epochs=5)
    det = det.fit(X, y) if name == "devnet" else det.fit(X)
    np.testing.assert_allclose(training_reference(det), X.mean(axis=0), rtol=1e-5, atol=1e-6)
    contributions = explain(det, probes)
    assert contributions.shape == (5, 5) and np.isfinite(contributions).all()
    if name == "deep_svdd":  # devnet learns what its labels say, not distance
        assert (contributions.argmax(axis=1) == np.arange(5)).mean() >= 0.8


def test_images_get_one_contribution_per_pixel():
    X = np.random.RandomState(0).rand(24, 6, 6).astype(np.float32)
    det = metaad.make_detector("deep_svdd", n_epochs=1, pretrain_epochs=1, random_state=0).fit(X)
    assert training_reference(det).shape == (36,)
    assert explain(det, X[:2]).shape == (2, 36)
    ae = metaad.make_detector("autoencoder", n_epochs=1, random_state=0).fit(X)
    assert explain(ae, X[:2]).shape == (2, 36)


def test_clear_errors(data):
    X, probes = data
    with pytest.raises(NotFittedError, match="not fitted"):
        replacement_contributions(metaad.make_detector("iforest"), probes)
    det = metaad.make_detector("iforest", random_state=0).fit(X)
    with pytest.raises(DataError, match=r"reference has 3 value\(s\) but X has 5 feature\(s\) per row"):
        replacement_contributions(det, probes, reference=[0.0, 0.0, 0.0])
    with pytest.raises(DataError, match=r"1-D .*X.reshape\(1, -1\)"):
        replacement_contributions(det, probes[0])
    with pytest.raises(ParameterError, match="has no decision_function"):
        replacement_contributions(object(), probes)

    class Bare:
        def decision_function(self, X):
            return np.zeros(len(X))

    with pytest.raises(ParameterError, match="pass reference="):
        replacement_contributions(Bare(), probes)


def test_pipeline_explains_every_detector_by_input_column():
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"amount": rng.normal(size=300), "city": rng.choice(["a", "b", "c"], size=300), "n": rng.normal(size=300)})
    odd = frame.head(2).copy()
    odd.loc[odd.index[0], "amount"] = 9.0
    odd.loc[odd.index[1], "n"] = -9.0
    for name in ("iforest", "autoencoder"):
        pipe = metaad.AnomalyPipeline(metaad.make_detector(name, random_state=0)).fit(frame)
        explanation = pipe.explain(odd)
        assert list(explanation.columns) == ["amount", "city", "n"] and list(explanation.index) == list(odd.index)
        assert explanation.idxmax(axis=1).tolist() == ["amount", "n"]


def test_report_asks_a_callable_explanation_only_about_the_rows_it_shows(tmp_path):
    from metaad.evaluation import write_report

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"x": rng.normal(size=2000), "y": rng.normal(size=2000)})
    scores = rng.rand(2000)
    asked = []

    def explanation(rows):
        asked.append(np.asarray(rows))
        return pd.DataFrame({"x": np.ones(len(rows)), "y": np.zeros(len(rows))}, index=frame.index[rows])

    path = write_report(tmp_path / "r.html", scores=scores, threshold=0.5, frame=frame, title="t",
                        detector_name="iforest", params={}, explanation=explanation, top=20)
    (rows,) = asked
    top = np.argsort(-scores)[:20]
    assert set(top) <= set(rows) and len(rows) == 500  # the top rows, and the 500 highest of ~1000 flagged
    assert scores[rows].min() > 0.5
    text = path.read_text()
    assert "Why these rows" in text and "Mean contribution over the 500 highest-scoring of the" in text
