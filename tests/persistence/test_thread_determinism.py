"""Same seed and same input give the same scores whatever the machine's thread count, also after save/load.

The torch thread count changes the order of floating-point reductions, hence the scores; it used to follow the
machine's cores for large networks.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest
import torch

import metaad
from metaad.detectors import deep


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return np.random.RandomState(0).normal(size=(600, 30)).astype(np.float32)


@contextlib.contextmanager
def machine_with(cores: int, monkeypatch: pytest.MonkeyPatch):
    """Pretend to run on a machine with ``cores`` cores (and torch's default thread count for it)."""
    previous = torch.get_num_threads()
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    torch.set_num_threads(cores)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
        monkeypatch.undo()


def large_autoencoder() -> deep.BaseDeepDetector:
    # 1.1 M parameters x 256 rows: above the size at which several threads are used
    return metaad.make_detector("autoencoder", hidden_sizes=(1024, 512), batch_size=256, max_steps=4, random_state=0)


def test_one_or_two_cores_give_the_same_scores_and_the_saved_model_keeps_them(X, monkeypatch, tmp_path) -> None:
    with machine_with(1, monkeypatch):
        one = large_autoencoder().fit(X)
        scores_one = one.decision_function(X)
    with machine_with(2, monkeypatch):
        two = large_autoencoder().fit(X)
        scores_two = two.decision_function(X)
        folder = metaad.save(two, tmp_path / "model")
    np.testing.assert_array_equal(scores_one, scores_two)
    assert one.n_threads_ == two.n_threads_ == deep.LARGE_NETWORK_THREADS

    used = []
    real = deep.torch_threads

    def recording(n_threads):
        used.append(n_threads)
        return real(n_threads)

    with machine_with(1, monkeypatch):
        monkeypatch.setattr(deep, "torch_threads", recording)
        loaded = metaad.load(folder)
        np.testing.assert_array_equal(loaded.decision_function(X), scores_two)
    assert loaded.n_threads_ == two.n_threads_
    assert used == [two.n_threads_], "scoring must use the thread count the model was trained with"


def test_scoring_uses_the_trained_thread_count_not_the_current_parameter(X, tmp_path) -> None:
    det = metaad.make_detector("autoencoder", n_epochs=1, n_threads=2, random_state=0).fit(X[:200])
    expected = det.decision_function(X)
    loaded = metaad.load(metaad.save(det, tmp_path / "m"))
    loaded.set_params(n_threads=1)
    assert loaded._scoring_threads() == 2
    np.testing.assert_array_equal(loaded.decision_function(X), expected)
