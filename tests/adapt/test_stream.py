"""StreamDetector: windows, drift alarms, the adaptation policies, the adaptive threshold."""

from __future__ import annotations

import numpy as np
import pytest

import metaad
from metaad.adapt import StreamDetector
from metaad.adapt.meta_init import ReptileInitialization
from metaad.adapt.stream import far_out_fence
from metaad.exceptions import NotFittedError, ParameterError


def _normal(seed: int, n: int, shift: float = 0.0) -> np.ndarray:
    return np.random.RandomState(seed).normal(shift, 1.0, size=(n, 4))


def _ae(**extra) -> metaad.BaseDetector:
    return metaad.make_detector("autoencoder", n_epochs=5, batch_size=32, learning_rate=1e-2, random_state=0, **extra)


def test_windows_scores_and_no_adaptation_without_drift() -> None:
    stream = StreamDetector(metaad.make_detector("ecod"), window=100, adapt="refit", random_state=0).fit(_normal(0, 300))
    model = stream.detector_
    scores, flags, reports = stream.process(_normal(1, 250))
    assert scores.shape == flags.shape == (250,)
    np.testing.assert_allclose(scores, model.decision_function(_normal(1, 250)))
    assert [r.first_row for r in reports] == [0, 100] and [r.n_rows for r in reports] == [100, 100]
    assert stream.detector_ is model and stream.version_ == 0
    last = stream.flush()
    assert [r.n_rows for r in last] == [50] and stream.n_rows_ == 250


@pytest.mark.parametrize("policy", ["refit", "finetune", "meta"])
def test_drift_adapts_the_model_to_the_new_distribution(policy: str) -> None:
    init = None
    if policy == "meta":
        init = ReptileInitialization(hidden_sizes=(16, 8, 4), latent_size=2, n_iterations=20, random_state=0).fit(
            [_normal(s, 100, shift) for s, shift in enumerate((-2.0, 0.0, 2.0))])
    stream = StreamDetector(_ae(), window=200, adapt=policy, finetune_steps=40, meta_init=init, random_state=0)
    stream.fit(_normal(0, 400))
    old = stream.detector_
    shifted = _normal(1, 200, shift=3.0)
    before = old.decision_function(shifted).mean()
    _, _, reports = stream.process(shifted)
    assert reports[0].drift and reports[0].adapted and reports[0].version == 1 and reports[0].adapt_seconds > 0
    assert stream.detector_ is not old  # a new version; the old one is unchanged
    assert old.decision_function(shifted).mean() == pytest.approx(before)
    new_rows = _normal(2, 200, shift=3.0)
    assert stream.detector_.decision_function(new_rows).mean() < 0.8 * old.decision_function(new_rows).mean()
    # the new window is the reference now: more rows like it raise no alarm
    _, _, after = stream.process(new_rows)
    assert not after[0].drift and after[0].version == 1


def test_policy_none_reports_drift_and_keeps_the_model() -> None:
    stream = StreamDetector(metaad.make_detector("ecod"), window=100, adapt="none", random_state=0).fit(_normal(0, 300))
    model = stream.detector_
    _, _, reports = stream.process(_normal(1, 300, shift=2.0))
    assert all(r.drift for r in reports) and not any(r.adapted for r in reports)
    assert stream.detector_ is model


def test_threshold_follows_recent_normal_scores_and_ignores_far_anomalies() -> None:
    stream = StreamDetector(metaad.make_detector("ecod"), window=200, adapt="none", random_state=0).fit(_normal(0, 400))
    start = stream.threshold_
    batch = _normal(1, 200)
    batch[:10] = 50.0  # far anomalies: above the fence, they do not move the threshold
    scores, _, _ = stream.process(batch)
    fence = far_out_fence(scores)
    assert (scores[:10] > fence).all() and (scores[10:] <= fence).mean() > 0.95
    assert stream.threshold_ == pytest.approx(np.quantile(scores[scores <= fence], 0.9))
    assert abs(stream.threshold_ - start) < 0.25 * start
    # a wider spread of normal rows moves it up
    stream.process(_normal(2, 200) * 1.5)
    assert stream.threshold_ > start


def test_memory_of_the_stream_is_bounded() -> None:
    stream = StreamDetector(metaad.make_detector("ecod"), window=50, random_state=0).fit(_normal(0, 100))
    for seed in range(10):
        stream.process(_normal(seed, 120))
    assert stream._buffered < 50 and len(stream.normal_scores_) <= 50 and stream.reference_.shape[0] == 50


def test_bad_configuration_is_named() -> None:
    with pytest.raises(ParameterError, match="adapt='finetune' needs a detector with partial_fit"):
        StreamDetector(metaad.make_detector("ecod"), adapt="finetune").fit(_normal(0, 50))
    with pytest.raises(ParameterError, match="adapt='meta' adapts an autoencoder"):
        StreamDetector(metaad.make_detector("ecod"), adapt="meta").fit(_normal(0, 50))
    with pytest.raises(ParameterError, match="adapt='sometimes'"):
        StreamDetector(metaad.make_detector("ecod"), adapt="sometimes").fit(_normal(0, 50))
    with pytest.raises(ParameterError, match="window must be"):
        StreamDetector(metaad.make_detector("ecod"), window=2).fit(_normal(0, 50))
    with pytest.raises(NotFittedError, match="not fitted"):
        StreamDetector(metaad.make_detector("ecod")).process(_normal(0, 5))


@pytest.mark.slow  # 300 meta-iterations (~12 s on a shared core)
def test_meta_policy_without_an_initialization_meta_trains_on_segments_of_the_reference() -> None:
    stream = StreamDetector(_ae(), window=200, adapt="meta", finetune_steps=40, random_state=0).fit(_normal(0, 400))
    assert stream.meta_init_.n_features_in_ == 4 and stream.meta_init_.hidden_sizes == (16, 8, 4)
    _, _, reports = stream.process(_normal(1, 200, shift=3.0))
    assert reports[0].adapted and stream.detector_.registry_name == "autoencoder"
