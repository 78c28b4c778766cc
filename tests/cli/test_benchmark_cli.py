"""``metaad benchmark``, ``benchmark-report`` and ``knowledge build|info`` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from metaad.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli_bench")
    rng = np.random.RandomState(0)
    for name in ("one", "two"):
        np.savez(root / f"{name}.npz", X=np.r_[rng.normal(size=(90, 3)), rng.normal(4, 1, size=(10, 3))], y=np.r_[np.zeros(90), np.ones(10)])
    return root


def test_benchmark_report_and_knowledge(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.parquet"
    args = ["benchmark", "--data", str(data_dir), "--detectors", "ecod,iforest", "--seeds", "0,1", "--out", str(out),
            "--workers", "1", "--time-limit", "60", "--max-rows", "80"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "8 trials recorded" in result.output
    frame = pd.read_parquet(out)
    assert len(frame) == 8 and (frame["status"] == "ok").all()

    again = runner.invoke(app, args)  # resumes: nothing left to run
    assert again.exit_code == 0 and "8 already recorded" in again.output
    assert len(pd.read_parquet(out)) == 8

    report = runner.invoke(app, ["benchmark-report", str(out), "--out", str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    assert (tmp_path / "report" / "benchmark_report.html").exists()

    kb_dir = tmp_path / "kb"
    built = runner.invoke(app, ["knowledge", "build", "--results", str(out), "--data", str(data_dir), "--out", str(kb_dir)])
    assert built.exit_code == 0, built.output
    info = runner.invoke(app, ["knowledge", "info", "--path", str(kb_dir), "--json"])
    assert info.exit_code == 0, info.output
    parsed = json.loads(info.output)
    assert parsed["n_datasets"] == 2 and parsed["n_configurations"] == 2 and parsed["seeds"] == [0, 1]


def test_zoo_or_detectors_is_required(data_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["benchmark", "--data", str(data_dir), "--out", str(tmp_path / "r.parquet")])
    assert result.exit_code != 0


def test_shipped_knowledge_info() -> None:
    from metaad.meta.knowledge import default_knowledge_path

    if not (default_knowledge_path() / "manifest.json").exists():
        pytest.skip("no shipped knowledge base in metaad/knowledge/")
    result = runner.invoke(app, ["knowledge", "info", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["n_configurations"] >= 40 and info["n_tasks"] > info["n_datasets"] and info["command"]
