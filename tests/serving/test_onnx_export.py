"""ONNX export of the deep detectors: onnxruntime's scores equal metaad's to 1e-5."""

from __future__ import annotations

import json

import numpy as np
import pytest

import metaad
from metaad.exceptions import ParameterError

onnx = pytest.importorskip("onnx", reason='onnx is not installed (pip install "metaad[onnx]")')
ort = pytest.importorskip("onnxruntime", reason='onnxruntime is not installed (pip install "metaad[onnx]")')

from metaad.serving.onnx_export import export_onnx  # noqa: E402

from tests.serving.conftest import training_frame  # noqa: E402

X = np.random.RandomState(0).normal(size=(300, 6))
Y = (np.arange(300) % 30 == 0).astype(int)


def onnx_scores(path, X) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": np.asarray(X, dtype=np.float32)})[0]


@pytest.mark.parametrize("name", ["autoencoder", "vae", "deep_svdd", "wgan", "devnet"])
def test_onnx_scores_equal_metaad_scores(name, tmp_path):
    params = {"random_state": 0}
    if "max_steps" in metaad.detectors.registry.get_detector_info(name).parameters:
        params["max_steps"] = 30
    detector = metaad.make_detector(name, **params)
    detector.fit(X, Y) if name == "devnet" else detector.fit(X)
    path = export_onnx(detector, tmp_path / f"{name}.onnx")
    X_new = np.random.RandomState(1).normal(size=(50, 6)) * 2
    np.testing.assert_allclose(onnx_scores(path, X_new), detector.decision_function(X_new), rtol=1e-5, atol=1e-6)


def test_image_autoencoder_and_pipeline_metadata(tmp_path):
    images = np.random.RandomState(0).rand(64, 1, 8, 8)
    detector = metaad.make_detector("autoencoder", max_steps=5, random_state=0).fit(images)
    path = export_onnx(detector, tmp_path / "conv.onnx")
    np.testing.assert_allclose(onnx_scores(path, images[:10]), detector.decision_function(images[:10]), rtol=1e-5, atol=1e-6)

    pipe = metaad.AnomalyPipeline(metaad.make_detector("autoencoder", max_steps=5, random_state=0)).fit(training_frame())
    folder = metaad.save(pipe, tmp_path / "model")
    from metaad.cli._app import run_app

    assert run_app(["export", str(folder), "--format", "onnx", "--out", str(tmp_path / "p.onnx")]) == 0
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "p.onnx")).metadata_props}
    assert meta["detector"] == "autoencoder" and float(meta["threshold"]) == pytest.approx(pipe.threshold_)
    names = json.loads(meta["feature_names"])
    frame = training_frame(20, seed=4)
    np.testing.assert_allclose(onnx_scores(tmp_path / "p.onnx", pipe.transform(frame)), pipe.decision_function(frame), rtol=1e-5, atol=1e-6)
    assert names[:2] == ["amount", "age"]


def test_classical_detectors_are_refused_by_name(tmp_path):
    with pytest.raises(ParameterError, match="iforest is not one"):
        export_onnx(metaad.make_detector("iforest", random_state=0).fit(X), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()
