"""Shared helpers for the data tests: where ../shared/datasets lives."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def shared_path(*parts: str) -> Path:
    """The path of a file under ../shared/datasets, skipping the test when it is absent."""
    path = SHARED_DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared/datasets not present: {path} is missing")
    return path
