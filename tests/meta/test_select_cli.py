"""`metaad select` and `metaad knowledge add` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metaad.cli.select  # noqa: F401  (adds the commands; the lead wires it into metaad.cli)
from metaad.cli._app import run_app
from metaad.benchmark.zoo import get_zoo


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = run_app(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A results file of real zoo configurations on three small datasets, and the datasets' folder."""
    folder = tmp_path_factory.mktemp("cli")
    rng = np.random.RandomState(0)
    (folder / "data").mkdir()
    configs = [c for f in ("iforest", "ecod", "knn") for c in [c for c in get_zoo(families=[f])][:2]]
    rows = []
    for i in range(3):
        X = rng.normal(size=(100, 3 + 2 * i))
        np.savez(folder / "data" / f"set{i}.npz", X=X, y=np.r_[np.zeros(90), np.ones(10)])
        for j, cfg in enumerate(configs):
            rows.append({**cfg.to_dict(), "dataset": f"set{i}", "seed": 0, "n_rows": 100, "auroc": 0.6 + 0.05 * j,
                         "average_precision": 0.3, "fit_seconds": 0.01, "score_seconds": 0.01, "status": "ok"})
    pd.DataFrame(rows).to_parquet(folder / "results.parquet")
    return folder / "results.parquet", folder / "data", folder / "user"


def test_knowledge_add_then_select_as_json(knowledge, tmp_path, capsys) -> None:
    results, data, user = knowledge
    code, out, err = run(["knowledge", "add", "--results", str(results), "--data", str(data),
                          "--knowledge-dir", str(user)], capsys)
    assert code == 0, err
    assert "added 3 task(s) (set0@100, set1@100, set2@100)" in out
    code, out, err = run(["knowledge", "add", "--results", str(results), "--data", str(data),
                          "--knowledge-dir", str(user)], capsys)
    assert code == 0 and "added 0 task(s), updated 3 already there" in out  # nothing new is not called new
    frame = pd.DataFrame({"a": np.random.RandomState(1).normal(size=80), "b": np.arange(80.0)})
    frame.to_csv(tmp_path / "table.csv", index=False)
    code, out, err = run(["select", str(tmp_path / "table.csv"), "--top", "2", "--json", "--knowledge-dir", str(user)], capsys)
    assert code == 0, err
    answer = json.loads(out)
    assert answer["n_rows"] == 80 and len(answer["recommendations"]) == 2
    first = answer["recommendations"][0]
    assert {"rank", "config_id", "family", "params", "predicted_auroc", "predicted_seconds", "reason"} <= set(first)
    code, out, err = run(["knowledge", "info", "--path", str(user)], capsys)
    assert code == 0 and "n_tasks" in out  # the user's folder is a knowledge base like the shipped one


def test_select_table_view_and_single_column(knowledge, tmp_path, capsys) -> None:
    _, _, user = knowledge
    pd.DataFrame({"only": np.random.RandomState(2).normal(size=60)}).to_csv(tmp_path / "one.csv", index=False)
    code, out, err = run(["select", str(tmp_path / "one.csv"), "--knowledge-dir", str(user)], capsys)
    assert code == 0, err
    assert "60 rows x 1 columns" in out and "metaad detect" in out


def test_select_on_five_rows_is_one_clear_error(knowledge, tmp_path, capsys) -> None:
    _, _, user = knowledge
    pd.DataFrame({"a": [1.0, 2, 3, 4, 5], "b": [0.0, 1, 0, 1, 9]}).to_csv(tmp_path / "five.csv", index=False)
    code, _, err = run(["select", str(tmp_path / "five.csv"), "--knowledge-dir", str(user)], capsys)
    assert code == 2
    assert "5 rows are too few" in err and "Traceback" not in err


def test_knowledge_add_with_a_missing_dataset_is_a_clear_error(knowledge, tmp_path, capsys) -> None:
    results, _, _ = knowledge
    (tmp_path / "empty").mkdir()
    np.savez(tmp_path / "empty" / "other.npz", X=np.zeros((4, 2)), y=np.array([0, 0, 0, 1]))
    code, _, err = run(["knowledge", "add", "--results", str(results), "--data", str(tmp_path / "empty"),
                        "--knowledge-dir", str(tmp_path / "user")], capsys)
    assert code == 2 and "not in --data" in err
