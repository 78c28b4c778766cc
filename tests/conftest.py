"""Shared fixtures: where ../shared/datasets is, and skipping cleanly when it is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The ../shared/datasets folder, or a skip with the reason when it is absent."""
    if not (SHARED_DATASETS / "tabular").is_dir():
        pytest.skip(f"../shared/datasets not present (looked in {SHARED_DATASETS}); these tests need the benchmark data")
    return SHARED_DATASETS


def load_npz(shared: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """X and 0/1 labels of one ../shared tabular dataset."""
    data = np.load(shared / "tabular" / f"{name}.npz")
    return data["X"].astype(np.float64), data["y"].astype(int).ravel()


@pytest.fixture(scope="session")
def cardio_split(shared_datasets: Path) -> list[np.ndarray]:
    """cardio split as the README protocol does for seed 0: X_train, X_test, y_train, y_test."""
    from sklearn.model_selection import train_test_split

    X, y = load_npz(shared_datasets, "cardio")
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
