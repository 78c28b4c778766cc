"""The knowledge base: tasks at sizes, build, save/load, versions, merging the user's additions atomically."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metaad.exceptions import DataError, ModelFileError
from metaad.meta.knowledge import (
    KNOWLEDGE_FORMAT_VERSION,
    add_knowledge,
    build_knowledge,
    load_knowledge,
    load_merged_knowledge,
)
from tests.meta._planted import planted_results


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("kb")
    rng = np.random.RandomState(0)
    for name in ("a", "b"):
        np.savez(root / f"{name}.npz", X=rng.normal(size=(80, 3)), y=np.r_[np.zeros(72), np.ones(8)])
    base = {"family": "x", "params_json": "{}", "average_precision": 0.1, "fit_seconds": 1.0, "score_seconds": 0.5,
            "status": "ok"}
    rows = [{**base, "dataset": d, "config_id": c, "family": c.split("-")[0], "seed": s, "n_rows": n,
             "auroc": 0.5 + 0.1 * s + (0.2 if c.startswith("x") else 0)}
            for d in ("a", "b") for n in (40, 80) for c in ("x-1", "y-2") for s in (0, 1)]
    rows.append({**base, "dataset": "a", "config_id": "z-3", "family": "z", "seed": 0, "n_rows": 80, "auroc": None,
                 "status": "error"})
    rows.append({**base, "dataset": "c", "config_id": "x-1", "seed": 0, "n_rows": 80, "auroc": None, "status": "error"})
    results = pd.DataFrame(rows)
    build_knowledge(results, [root], root / "kb", zoo_name="test", command="test")
    return root, results


def test_round_trip_holds_tasks_at_each_size(built: tuple[Path, pd.DataFrame]) -> None:
    root, _ = built
    kb = load_knowledge(root / "kb")
    assert list(kb.tasks.index) == ["a@40", "a@80", "b@40", "b@80"]
    assert kb.performance.shape == (4, 3) and kb.performance.loc["a@80", "x-1"] == pytest.approx(0.75)
    assert np.isnan(kb.performance.loc["a@80", "z-3"]) and kb.seconds.loc["a@40", "x-1"] == pytest.approx(1.5)
    assert kb.meta_features.loc["a@40", "shape.log_rows"] == pytest.approx(np.log(28))  # the 70% training part
    assert kb.manifest["n_tasks"] == 4 and kb.manifest["n_datasets"] == 2 and kb.manifest["sizes"] == [40, 80]
    assert kb.manifest["format_version"] == KNOWLEDGE_FORMAT_VERSION and kb.manifest["excluded_tasks"] == ["c@80"]


def test_other_versions_and_broken_folders_fail_clearly(built: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, _ = built
    copy = tmp_path / "kb"
    shutil.copytree(root / "kb", copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(dict(manifest, format_version=99)))
    with pytest.raises(ModelFileError, match="version 99"):
        load_knowledge(copy)
    (copy / "manifest.json").write_text(json.dumps(dict(manifest, meta_features_version=1)))
    with pytest.raises(ModelFileError, match="meta-features of version 1"):
        load_knowledge(copy)
    (copy / "manifest.json").write_text("[]")
    with pytest.raises(DataError, match="JSON object"):
        load_knowledge(copy)
    with pytest.raises(DataError, match="not a knowledge base"):
        load_knowledge(tmp_path)


def test_missing_dataset_and_sizeless_results_fail(built: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    root, results = built
    with pytest.raises(DataError, match="not in --data"):
        build_knowledge(results, [root / "a.npz"], tmp_path / "kb")
    with pytest.raises(DataError, match="n_rows"):
        build_knowledge(results.assign(n_rows=-1), [root], tmp_path / "kb")


def test_knowledge_add_merges_and_reports_what_was_new(tmp_path: Path) -> None:
    results, data_dir = planted_results(tmp_path, n_datasets=4, prefix="mine")
    user = tmp_path / "user"
    shipped = len(load_knowledge().tasks)
    info = add_knowledge(results[results["dataset"].isin(["mine0", "mine1"])], [data_dir], user_dir=user)
    assert info["added_tasks"] == ["mine0@120", "mine1@120"] and info["n_merged_tasks"] == shipped + 2
    info = add_knowledge(results, [data_dir], user_dir=user)
    assert info["added_tasks"] == ["mine2@120", "mine3@120"] and info["updated_tasks"] == ["mine0@120", "mine1@120"]
    assert len(pd.read_parquet(user / "results.parquet")) == len(results)  # no duplicated rows
    assert load_knowledge(user).manifest["n_tasks"] == 4  # the user folder is itself a knowledge base
    with pytest.raises(DataError, match="not in --data"):
        add_knowledge(results.assign(dataset="elsewhere"), [data_dir], user_dir=user)
    with pytest.raises(DataError, match="lack column"):
        add_knowledge(results.drop(columns="auroc"), [data_dir], user_dir=user)


def test_a_corrupt_user_folder_is_skipped_with_a_warning_naming_it(tmp_path: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "manifest.json").write_text("{not json")
    with pytest.warns(UserWarning, match=str(user)):
        kb = load_merged_knowledge(user_dir=user)
    assert len(kb.tasks) == len(load_knowledge().tasks)


def test_shipped_knowledge_base_covers_sizes() -> None:
    kb = load_knowledge()
    assert kb.performance.shape == (kb.manifest["n_tasks"], kb.manifest["n_configurations"])
    assert list(kb.meta_features.index) == list(kb.performance.index) == list(kb.tasks.index)
    assert kb.meta_features.notna().all().all() and kb.tasks["n_rows"].max() >= 5000
    assert kb.manifest["n_datasets"] >= 40 and "command" in kb.manifest
    assert "/work/" not in kb.manifest["command"]  # repository-relative paths only
