"""The autoencoder learns: its loss falls and it separates real anomalies (cardio, the README protocol)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

import metaad
from tests.conftest import load_npz


def test_seed_architecture_for_784_inputs() -> None:
    X = np.random.RandomState(0).rand(20, 784).astype(np.float32)
    det = metaad.make_detector("autoencoder", n_epochs=1, random_state=0).fit(X)
    widths = [m.out_features for m in det.network_.encoder if hasattr(m, "out_features")]
    assert widths == [128, 64, 32, 10]
    widths = [m.out_features for m in det.network_.decoder if hasattr(m, "out_features")]
    assert widths == [32, 64, 128, 784]


def test_learns_on_cardio(shared_datasets) -> None:
    X, y = load_npz(shared_datasets, "cardio")
    aurocs = []
    for seed in (0, 1):
        X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
        det = metaad.make_detector("autoencoder", random_state=seed).fit(X_train)
        history = det.history_.train_loss
        assert history[-1] < 0.7 * history[0], f"training loss did not fall: {history[0]:.3f} -> {history[-1]:.3f}"
        aurocs.append(roc_auc_score(y_test, det.decision_function(X_test)))
    assert np.mean(aurocs) > 0.8, f"autoencoder AUROC on cardio {np.mean(aurocs):.3f}"


def test_feature_errors_explain_scores() -> None:
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 5))
    det = metaad.make_detector("autoencoder", n_epochs=5, random_state=0).fit(X)
    errors = det.feature_errors(X[:10])
    assert errors.shape == (10, 5)
    np.testing.assert_allclose(errors.mean(axis=1), det.decision_function(X[:10]), rtol=1e-5)


def test_device_auto_follows_cuda_and_a_missing_device_is_named(monkeypatch) -> None:
    import torch

    from metaad.device import resolve_device

    X = np.random.RandomState(0).rand(30, 3)
    det = metaad.make_detector("autoencoder", device="auto", n_epochs=1).fit(X)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert det.device_.type == expected
    assert {p.device.type for p in det.network_.parameters()} == {expected}  # the network lives where device_ says
    # "auto" asks torch: CUDA whenever it is present, the CPU otherwise
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(metaad.ParameterError, match="device='cuda' was requested but no CUDA device is available"):
        metaad.make_detector("autoencoder", device="cuda")
    with pytest.raises(metaad.ParameterError, match="device='gpu' is not a device name"):
        metaad.make_detector("autoencoder", device="gpu")
