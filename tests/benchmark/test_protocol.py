"""The protocol: sizes, the fit sample, skipped families, and the trial a user can reproduce by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from metaad.benchmark.datasets import discover_datasets, sizes_for
from metaad.benchmark.protocol import FIT_ROWS, Trial, fit_sample, make_trials, run_trial
from metaad.benchmark.zoo import Configuration


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.RandomState(0)
    path = tmp_path_factory.mktemp("protocol") / "big.npz"
    X = np.r_[rng.normal(size=(14_700, 3)), rng.normal(5, 1, size=(300, 3))]
    np.savez(path, X=X, y=np.r_[np.zeros(14_700), np.ones(300)])
    return path


def test_sizes_collapse_for_small_datasets_and_cap_large_ones(big: Path) -> None:
    assert sizes_for(str(big), [500, 5000, 50_000]) == [500, 5000, 15_000]
    trials = make_trials(discover_datasets([big]), [Configuration("ecod", {})], [0, 1], sizes=[500, None])
    assert sorted({t.n_rows for t in trials}) == [500, 15_000] and len(trials) == 4


def test_large_training_parts_are_fitted_on_a_sample(big: Path) -> None:
    rows = fit_sample(10_500, 3)
    assert len(rows) == FIT_ROWS and len(np.unique(rows)) == FIT_ROWS and np.all(np.diff(rows) > 0)
    assert not np.array_equal(rows, fit_sample(10_500, 4))  # seeded by the trial's seed
    row = run_trial(Trial("big", str(big), Configuration("iforest", {"n_estimators": 20}), 0, 15_000).to_task())
    assert row["status"] == "ok" and row["n_rows"] == 15_000 and row["auroc"] > 0.95


def test_quadratic_families_are_skipped_on_large_tables(big: Path) -> None:
    row = run_trial(Trial("big", str(big), Configuration("ocsvm", {}), 0, 15_000).to_task())
    assert row["status"] == "skipped" and "10000 training rows" in row["message"]
    small = run_trial(Trial("big", str(big), Configuration("ocsvm", {}), 0, 500).to_task())
    assert small["status"] == "ok"
