"""The knowledge base: build from results, save/load round trip, versioning, the shipped one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metaad.exceptions import DataError, ModelFileError
from metaad.meta.knowledge import KNOWLEDGE_FORMAT_VERSION, build_knowledge, default_knowledge_path, load_knowledge


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("kb")
    rng = np.random.RandomState(0)
    for name in ("a", "b"):
        np.savez(root / f"{name}.npz", X=rng.normal(size=(80, 3)), y=np.r_[np.zeros(72), np.ones(8)])
    rows = [{"dataset": d, "config_id": c, "family": c.split("-")[0], "params_json": "{}", "seed": s,
             "auroc": 0.5 + 0.1 * s + (0.2 if c.startswith("x") else 0), "average_precision": 0.1, "status": "ok"}
            for d in ("a", "b") for c in ("x-1", "y-2") for s in (0, 1)]
    rows.append({"dataset": "a", "config_id": "z-3", "family": "z", "params_json": "{}", "seed": 0,
                 "auroc": None, "average_precision": None, "status": "error"})
    rows += [{"dataset": "c", "config_id": "x-1", "family": "x", "params_json": "{}", "seed": 0, "auroc": None,
              "average_precision": None, "status": "error"}]  # every trial failed on c: left out
    results = pd.DataFrame(rows)
    build_knowledge(results, [root], root / "kb", zoo_name="test", max_rows=None, command="test")
    return root, results


def test_round_trip(built: tuple[Path, pd.DataFrame]) -> None:
    root, _ = built
    kb = load_knowledge(root / "kb")
    assert kb.performance.shape == (2, 3)
    assert kb.performance.loc["a", "x-1"] == pytest.approx(0.75)
    assert np.isnan(kb.performance.loc["a", "z-3"])
    assert list(kb.meta_features.index) == ["a", "b"]
    assert kb.manifest["n_datasets"] == 2 and kb.manifest["n_configurations"] == 3 and kb.manifest["seeds"] == [0, 1]
    assert kb.manifest["format_version"] == KNOWLEDGE_FORMAT_VERSION and kb.manifest["command"] == "test"
    assert kb.manifest["excluded_datasets"] == ["c"]
    assert set(kb.configurations.index) == {"x-1", "y-2", "z-3"}


def test_other_version_fails_clearly(built: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    import shutil

    root, _ = built
    copy = tmp_path / "kb"
    shutil.copytree(root / "kb", copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["format_version"] = 99
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="version 99"):
        load_knowledge(copy)
    with pytest.raises(DataError, match="not a knowledge base"):
        load_knowledge(tmp_path)


def test_missing_dataset_fails(built: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, results = built
    with pytest.raises(DataError, match="not in --data"):
        build_knowledge(results, [root / "a.npz"], tmp_path / "kb")


def test_shipped_knowledge_base() -> None:
    if not (default_knowledge_path() / "manifest.json").exists():
        pytest.skip("no shipped knowledge base in metaad/knowledge/ (build it with benchmarks/build_knowledge.py)")
    kb = load_knowledge()
    assert kb.performance.shape == (kb.manifest["n_datasets"], kb.manifest["n_configurations"])
    assert kb.manifest["n_configurations"] >= 300
    assert list(kb.meta_features.index) == list(kb.performance.index)
    assert kb.meta_features.notna().all().all()
