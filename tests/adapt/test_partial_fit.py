"""partial_fit on the deep detectors continues training (weights and Adam's state) rather than restarting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import metaad
from metaad.exceptions import ParameterError


def _data(seed: int = 0, shift: float = 0.0, n: int = 200) -> np.ndarray:
    return np.random.RandomState(seed).normal(shift, 1.0, size=(n, 4))


@pytest.mark.parametrize("name", ["autoencoder", "vae", "deep_svdd"])
def test_partial_fit_continues_from_current_weights(name: str) -> None:
    det = metaad.make_detector(name, n_epochs=3, random_state=0).fit(_data())
    before = {k: v.clone() for k, v in det.network_.state_dict().items()}
    optimizer = det.optimizer_
    steps_before = max(int(s["step"]) for s in optimizer.state_dict()["state"].values())
    batch = _data(1, shift=2.0)
    det.partial_fit(batch, n_steps=3)
    # the same optimizer, its step count advanced by 3 (a restart would begin again at 3)
    assert det.optimizer_ is optimizer
    assert max(int(s["step"]) for s in optimizer.state_dict()["state"].values()) == steps_before + 3
    after = det.network_.state_dict()
    moved = [k for k in before if before[k].dtype.is_floating_point and not torch.equal(before[k], after[k])]
    assert moved, "partial_fit changed no weight"
    # continuing: a few small steps stay close to the fitted weights, unlike a fresh network
    fresh = metaad.make_detector(name, n_epochs=3, random_state=1).fit(_data())
    key = next(k for k in moved if after[k].ndim == 2)
    assert (after[key] - before[key]).norm() < (fresh.network_.state_dict()[key] - before[key]).norm()
    assert det.decision_scores_.shape == (len(batch),)
    assert det.threshold_ == pytest.approx(np.quantile(det.decision_scores_, 0.9))


def test_partial_fit_learns_the_new_batch_and_is_deterministic() -> None:
    new = _data(2, shift=3.0)
    dets = []
    for _ in range(2):
        det = metaad.make_detector("autoencoder", n_epochs=3, batch_size=32, learning_rate=1e-2,
                                     random_state=0).fit(_data())
        loss_before = det.decision_function(new).mean()
        for _ in range(3):
            det.partial_fit(new, n_epochs=3)
        assert det.decision_function(new).mean() < 0.7 * loss_before
        dets.append(det)
    np.testing.assert_array_equal(dets[0].decision_function(new), dets[1].decision_function(new))


def test_partial_fit_on_an_unfitted_detector_fits_and_checks_its_arguments(tmp_path) -> None:
    det = metaad.make_detector("autoencoder", n_epochs=2, random_state=0).partial_fit(_data())
    assert hasattr(det, "network_") and not hasattr(det, "n_partial_fits_")
    with pytest.raises(ParameterError, match="n_steps must be a positive integer"):
        det.partial_fit(_data(), n_steps=0)
    loaded = metaad.load(metaad.save(det, tmp_path / "m"))  # a loaded model gets a new optimizer
    loaded.partial_fit(_data(3), n_steps=2)
    assert loaded.n_partial_fits_ == 1
    assert not hasattr(metaad.make_detector("wgan"), "partial_fit")  # a GAN's game has no single-loss step


def test_partial_fit_trims_the_worst_rows_of_a_batch() -> None:
    """With trim_fraction the planted far rows of a batch barely move the network towards them."""
    clean = _data(4)
    batch = _data(5)
    batch[:20] = 25.0
    scores = {}
    for trim in (0.0, 0.2):
        det = metaad.make_detector("autoencoder", n_epochs=3, batch_size=32, learning_rate=1e-2, random_state=0,
                                   trim_fraction=trim).fit(clean)
        det.partial_fit(batch, n_epochs=10)
        scores[trim] = det.decision_function(batch[:1])[0] / det.decision_function(clean).mean()
    assert scores[0.2] > 1.5 * scores[0.0]
