"""`metaad detect --known-anomalies-col`: a column of known anomalies reaches fit(X, y); it is not a feature."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from metaad.cli._app import run_app


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = run_app(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> tuple:
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 4))
    X[:20] += 4
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame["known"] = np.r_[np.ones(5), np.zeros(395)]
    frame.loc[200:, "known"] = np.nan  # blank cells are unknown
    path = tmp_path_factory.mktemp("known") / "rows.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_known_anomalies_reach_auto_and_are_not_a_feature(table, tmp_path, capsys) -> None:
    path, _ = table
    out = tmp_path / "out"
    code, _, err = run(["detect", str(path), "--known-anomalies-col", "known", "--out", str(out), "--seed", "0"], capsys)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert "5 known anomalies" in (out / "report.html").read_text()
    preprocessor = (out / "model" / "preprocessor.json").read_text()
    assert '"a"' in preprocessor and '"known"' not in preprocessor  # the column was not a feature
    assert metrics["n_rows"] == 400


def test_known_anomalies_errors_name_the_problem(table, tmp_path, capsys) -> None:
    path, frame = table
    code, _, err = run(["detect", str(path), "--known-anomalies-col", "known", "-d", "iforest", "--out", str(tmp_path / "a")], capsys)
    assert code == 2 and "iforest does not learn from known anomalies" in err
    code, _, err = run(["detect", str(path), "--known-anomalies-col", "nope", "--out", str(tmp_path / "b")], capsys)
    assert code == 2 and "no column 'nope'" in err
    bad = tmp_path / "bad.csv"
    frame.assign(known=frame["known"].fillna(0).astype(object).where(frame.index != 7, "yes")).to_csv(bad, index=False)
    code, _, err = run(["detect", str(bad), "--known-anomalies-col", "known", "--out", str(tmp_path / "c")], capsys)
    assert code == 2 and "row 7 holds 'yes'" in err
