"""``metaad tune``: detect's outputs for the best configuration plus tuning.html and the trial log; resume; errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import metaad.cli  # noqa: F401  (registers the commands)
from metaad.cli._app import run_app


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> str:
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(285, 3)), rng.normal(5, 1, size=(15, 3))]
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["y"] = np.r_[np.zeros(285, dtype=int), np.ones(15, dtype=int)]
    frame["known"] = np.nan
    frame.loc[[290, 295, 299], "known"] = 1
    path = tmp_path_factory.mktemp("tune") / "toy.csv"
    frame.to_csv(path, index=False)
    return str(path)


class _Result:
    def __init__(self, argv: list[str], capsys) -> None:
        self.exit_code = run_app(argv)
        captured = capsys.readouterr()
        self.output = captured.out + captured.err


def _tune(table: str, out, capsys, *extra: str) -> _Result:
    return _Result(["tune", table, "--label-col", "y", "--out", str(out), "--trials", "4", "--workers", "2",
                    "--drop-cols", "known", *extra], capsys)


@pytest.mark.slow
def test_tune_writes_detect_outputs_tuning_page_and_log_and_resumes(table: str, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    result = _tune(table, out, capsys)
    assert result.exit_code == 0, result.output
    assert {"scores.csv", "metrics.json", "report.html", "model", "tuning.html", "search"} <= {p.name for p in out.iterdir()}
    metrics = json.loads((out / "metrics.json").read_text())
    best = metrics["tuning"]["best"]
    assert metrics["detector"] == best["family"] and metrics["auroc"] is not None
    page = (out / "tuning.html").read_text()
    assert "How the reward was defined" in page and best["config_id"] in page and "policy entropy" in page
    log = (out / "search" / "trials.jsonl").read_text().splitlines()
    assert len(log) == 1 + 4 and "best reward" in result.output
    # the label column never reaches the search: its settings hold no labels
    assert json.loads(log[0])["settings"]["labelled"] is False
    # rerunning with a larger budget continues the logged search: 4 more trials, the first 4 replayed
    again = _tune(table, out, capsys, "--trials", "6")
    assert again.exit_code == 0, again.output
    rows = [json.loads(line) for line in (out / "search" / "trials.jsonl").read_text().splitlines()[1:]]
    assert sorted(r["trial"] for r in rows) == list(range(6))  # logged in completion order


def test_known_anomalies_column_switches_to_the_label_reward(table: str, tmp_path, capsys) -> None:
    out = tmp_path / "known"
    result = _Result(["tune", table, "--label-col", "y", "--known-anomalies-col", "known", "--out", str(out),
                      "--trials", "2", "--workers", "1", "--method", "random"], capsys)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert "3 known anomalies" in metrics["tuning"]["reward_definition"]
    assert "known" not in pd.read_csv(out / "scores.csv").columns


def test_bad_options_and_foreign_folders_fail_in_one_line(table: str, tmp_path, capsys) -> None:
    result = _tune(table, tmp_path / "x", capsys, "--engine", "spark")
    assert result.exit_code == 2 and "spark" in result.output
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    result = _tune(table, foreign, capsys)
    assert result.exit_code == 2 and "not written by metaad" in result.output
    assert (foreign / "notes.txt").exists() and not (foreign / "search").exists()
