"""Convolutional networks chosen by input shape; global image standardization."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import metaad
from metaad.detectors.image_networks import ConvAutoencoder, ConvDecoder, ConvEncoder, global_scaler, is_image_shape


@pytest.mark.parametrize("shape", [(28, 28), (3, 32, 32), (1, 27, 30)])
def test_conv_autoencoder_shapes(shape):
    net = ConvAutoencoder(shape, 8)
    x = torch.zeros(3, *shape)
    assert net(x).shape == x.shape
    assert ConvEncoder(shape, 5)(x).shape == (3, 5)
    assert ConvDecoder(shape, 5)(torch.zeros(3, 5)).shape == x.shape


def test_is_image_shape():
    assert is_image_shape((28, 28)) and is_image_shape((3, 32, 32)) and not is_image_shape((784,))


def test_global_scaler_is_one_value():
    X = np.random.RandomState(0).rand(10, 4, 4) * 255
    mean, scale = global_scaler(X)
    assert np.allclose(mean, X.mean()) and np.allclose(scale, X.std())


@pytest.mark.parametrize("shape", [(28, 28), (3, 32, 32)])
def test_autoencoder_on_images(shape, tmp_path):
    X = np.random.RandomState(0).rand(32, *shape).astype(np.float32)
    det = metaad.make_detector("autoencoder", n_epochs=2, batch_size=16, random_state=0).fit(X)
    assert type(det.network_).__name__ == "ConvAutoencoder"
    assert len(np.unique(det.scaler_mean_)) == 1  # global, not per pixel
    scores = det.decision_function(X[:5])
    assert scores.shape == (5,)
    loaded = metaad.load(metaad.save(det, tmp_path / "ae"))
    np.testing.assert_allclose(loaded.decision_function(X[:5]), scores, rtol=1e-6)


def test_image_shape_checked_at_score_time():
    X = np.random.RandomState(0).rand(20, 28, 28).astype(np.float32)
    det = metaad.make_detector("autoencoder", n_epochs=1, random_state=0).fit(X)
    with pytest.raises(metaad.exceptions.DataError, match=r"rows of shape \(3, 32, 32\), but AutoEncoderDetector was fitted on rows of shape \(28, 28\)"):
        det.decision_function(np.zeros((2, 3, 32, 32)))


def test_table_detector_rejects_images():
    with pytest.raises(metaad.exceptions.DataError, match=r"shape \(10, 4, 4\); this detector expects a 2-D table"):
        metaad.make_detector("devnet").fit(np.zeros((10, 4, 4)), np.r_[np.ones(2), np.zeros(8)])


def odd_blob_images() -> tuple[np.ndarray, np.ndarray]:
    """120 images of a blob near the centre and 8 of the same blob near a corner (same brightness), 28x28."""
    rng = np.random.RandomState(0)
    yy, xx = np.mgrid[:28, :28]

    def blob(cy, cx):
        return np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 32.0) + 0.05 * rng.rand(28, 28)

    normal = [blob(14 + rng.randn(), 14 + rng.randn()) for _ in range(120)]
    corner = [blob(6 + rng.randn(), 22 + rng.randn()) for _ in range(8)]
    return np.stack(normal + corner).astype(np.float32), np.r_[np.zeros(120), np.ones(8)]


@pytest.fixture(scope="module")
def blobs():
    return odd_blob_images()


@pytest.mark.parametrize("name", ["autoencoder", "vae", "deep_svdd"])
def test_image_detectors_learn_and_rank_the_odd_images_first(name, blobs):
    X, y = blobs
    det = metaad.make_detector(name, n_epochs=3, batch_size=32, random_state=0).fit(X)
    assert type(det.network_).__name__ != "MLPAutoencoder" and len(np.unique(det.scaler_mean_)) == 1
    losses = det.history_.train_loss
    assert losses[-1] < 0.85 * losses[0], f"{name}: the training loss did not fall on images: {losses}"
    assert roc_auc_score(y, det.decision_scores_) >= 0.95
    assert roc_auc_score(y, det.decision_function(X)) >= 0.95
