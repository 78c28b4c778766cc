"""A small real knowledge base for the meta tests: real zoo configurations, planted results on generated data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from metaad.benchmark.zoo import get_zoo

FAMILIES = ("iforest", "knn", "ecod", "hbos")


def planted_results(folder: Path, n_datasets: int = 6, prefix: str = "toy") -> tuple[pd.DataFrame, Path]:
    """Small datasets (npz) and planted results: wide tables favour knn, narrow ones the other families."""
    rng = np.random.RandomState(0)
    data_dir = folder / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    zoo = get_zoo("default-v2", families=list(FAMILIES))
    configs = [c for f in FAMILIES for c in [c for c in zoo if c.family == f][:3]]
    rows = []
    for i in range(n_datasets):
        wide = i % 2 == 0
        X = rng.normal(size=(120, 8 if wide else 3))
        y = np.r_[np.zeros(110), np.ones(10)]
        X[y == 1] += 4
        name = f"{prefix}{i}"
        np.savez(data_dir / f"{name}.npz", X=X, y=y)
        for cfg in configs:
            good = (cfg.family == "knn") == wide
            auroc = 0.9 if good else 0.7
            rows.append({**cfg.to_dict(), "dataset": name, "seed": 0, "n_rows": 120, "auroc": auroc + 0.01 * rng.rand(),
                         "average_precision": auroc - 0.3, "precision_at_n": 0.5, "fit_seconds": 0.01,
                         "score_seconds": 0.001, "peak_memory_mb": 0.0, "status": "ok", "message": ""})
    return pd.DataFrame(rows), data_dir


def planted_knowledge(folder: Path, n_datasets: int = 6) -> Path:
    """A knowledge base folder built from :func:`planted_results`."""
    from metaad.meta.knowledge import build_knowledge

    results, data_dir = planted_results(folder, n_datasets)
    build_knowledge(results, [data_dir], folder / "kb", zoo_name="planted", command="tests")
    return folder / "kb"
