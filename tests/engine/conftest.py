"""Small synthetic datasets and trials shared by the engine tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from metaad.benchmark.datasets import discover_datasets
from metaad.benchmark.protocol import make_trials
from metaad.benchmark.zoo import Configuration

CONFIGS = (
    Configuration("iforest", {"n_estimators": 20}),
    Configuration("ecod", {}),
    Configuration("knn", {"n_neighbors": 5}),
    Configuration("knn", {"n_neighbors": 500}),  # more neighbours than rows: recorded as an error
    Configuration("autoencoder", {"hidden_sizes": [8], "latent_size": 2, "n_epochs": 2, "batch_size": 32}),
)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench_data")
    rng = np.random.RandomState(0)
    for name, shift in (("easy", 5.0), ("hard", 1.0)):
        X = np.r_[rng.normal(size=(90, 4)), rng.normal(shift, 1.0, size=(10, 4))]
        np.savez(root / f"{name}.npz", X=X, y=np.r_[np.zeros(90), np.ones(10)])
    return root


@pytest.fixture(scope="session")
def trials(data_dir: Path) -> list:
    return make_trials(discover_datasets([data_dir]), CONFIGS, seeds=[0, 1])


@pytest.fixture(scope="session")
def local_results(trials: list, tmp_path_factory: pytest.TempPathFactory):
    from metaad.engine.run import run_benchmark

    out = tmp_path_factory.mktemp("local") / "results.parquet"
    return run_benchmark(trials, out, engine="local", workers=2, time_limit=60)
