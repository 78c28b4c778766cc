"""`metaad detect` / `score` / `detectors` / `datasets` as a user runs them, including every bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metaad.cli._app import run_app


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = run_app(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory) -> Path:
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200), "kind": rng.choice(["x", "y"], 200)})
    frame["label"] = 0
    frame.loc[:9, ["a", "b"]] += 6
    frame.loc[:9, "label"] = 1
    path = tmp_path_factory.mktemp("data") / "payments.csv"
    frame.to_csv(path, index=False)
    return path


def test_detect_on_a_bundled_dataset_writes_all_outputs(tmp_path, capsys) -> None:
    code, out, err = run(["detect", "wine", "--detector", "ecod", "--out", str(tmp_path / "wine")], capsys)
    assert code == 0, err
    folder = tmp_path / "wine"
    scores = pd.read_csv(folder / "scores.csv")
    assert list(scores.columns) == ["row", "score", "is_anomaly", "label"]
    assert len(scores) == 137
    metrics = json.loads((folder / "metrics.json").read_text())
    for key in ("auroc", "average_precision", "f1", "precision", "recall", "threshold", "n_rows",
                "n_anomalies_flagged", "detector", "params", "fit_seconds", "score_seconds"):
        assert key in metrics
    assert metrics["auroc"] > 0.7 and metrics["n_rows"] == 137 and metrics["detector"] == "ecod"
    assert metrics["n_anomalies_flagged"] == int(scores["is_anomaly"].sum())
    html = (folder / "report.html").read_text()
    assert "data:image/png;base64" in html and "ROC" in html
    assert str(folder) in out


def test_detect_then_score_a_csv(table_csv, tmp_path, capsys) -> None:
    out_dir = tmp_path / "run"
    code, _, err = run(["detect", str(table_csv), "--label-col", "label", "-d", "autoencoder", "--out", str(out_dir), "-p", "n_epochs=5"], capsys)
    assert code == 0, err
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["auroc"] > 0.9
    assert metrics["params"]["n_epochs"] == 5
    code, _, err = run(["score", str(out_dir / "model"), str(table_csv), "--label-col", "label", "--out", str(tmp_path / "s.csv")], capsys)
    assert code == 0, err
    rescored = pd.read_csv(tmp_path / "s.csv")
    original = pd.read_csv(out_dir / "scores.csv")
    np.testing.assert_allclose(rescored["score"], original["score"], rtol=1e-6)
    assert "Why these rows" in (out_dir / "report.html").read_text()


def test_detect_without_labels_has_null_metrics(table_csv, tmp_path, capsys) -> None:
    frame = pd.read_csv(table_csv).drop(columns="label")
    frame.to_parquet(tmp_path / "t.parquet")
    code, _, err = run(["detect", str(tmp_path / "t.parquet"), "--out", str(tmp_path / "o"), "--threshold", "fpr:0.01"], capsys)
    assert code == 0, err
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["auroc"] is None and metrics["f1"] is None
    assert list(pd.read_csv(tmp_path / "o" / "scores.csv").columns) == ["row", "score", "is_anomaly"]


BAD_TABLES = {
    "empty": ("a,b\n", "empty"),
    "single_row": ("a,b\n1,2\n", "row"),
    "constant": ("a,b\n" + "1,2\n" * 20, "constant"),
    "text_in_numbers": ("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(30)) + "abc,3\n", "'abc'"),
}


@pytest.mark.parametrize("case", sorted(BAD_TABLES))
def test_bad_tables_fail_with_one_line(case, tmp_path, capsys) -> None:
    text, expected = BAD_TABLES[case]
    path = tmp_path / f"{case}.csv"
    path.write_text(text)
    code, _, err = run(["detect", str(path), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists(), "a half-written output directory was left"


def test_missing_values_warn_or_refuse(tmp_path, capsys) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(30)) + ",3\n")
    code, _, err = run(["detect", str(path), "--out", str(tmp_path / "o1")], capsys)
    assert code == 0 and "warning" in err and "'a'" in err
    code, _, err = run(["detect", str(path), "--missing", "error", "--out", str(tmp_path / "o2")], capsys)
    assert code == 2 and "'a'" in err and not (tmp_path / "o2").exists()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["detect", "no/such/file.csv"], "no/such/file.csv"),
        (["detect", "{tmp}/data.xlsx"], "xlsx"),
        (["detect", "wine", "-d", "nope"], "unknown detector 'nope'"),
        (["detect", "wine", "--contamination", "0.9"], "contamination"),
        (["detect", "wine", "-d", "knn", "-p", "n_neighbors=-3"], "n_neighbors"),
        (["detect", "wine", "--threshold", "fpr:abc"], "fpr:abc"),
    ],
)
def test_bad_arguments_fail_with_one_line(argv, expected, tmp_path, capsys) -> None:
    (tmp_path / "data.xlsx").write_text("x")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv] + ["--out", str(tmp_path / "out")]
    code, _, err = run(argv, capsys)
    assert code == 2, err
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_wrong_columns_at_scoring_time(table_csv, tmp_path, capsys) -> None:
    code, _, _ = run(["detect", str(table_csv), "--label-col", "label", "-d", "ecod", "--out", str(tmp_path / "m")], capsys)
    assert code == 0
    frame = pd.read_csv(table_csv).drop(columns=["b"])
    frame.to_csv(tmp_path / "fewer.csv", index=False)
    code, _, err = run(["score", str(tmp_path / "m" / "model"), str(tmp_path / "fewer.csv"), "--label-col", "label", "--out", str(tmp_path / "s.csv")], capsys)
    assert code == 2 and "'b'" in err and "Traceback" not in err
    assert not (tmp_path / "s.csv").exists()


def test_listing_commands(capsys) -> None:
    code, out, _ = run(["detectors"], capsys)
    assert code == 0 and "iforest" in out and "autoencoder" in out
    code, out, _ = run(["datasets"], capsys)
    assert code == 0 and "breast_cancer" in out and "shuttle" in out


def test_console_script_prints_no_traceback(tmp_path) -> None:
    exe = shutil.which("metaad", path=str(Path(sys.executable).parent))
    assert exe, "the metaad console script is not installed in this environment"
    result = subprocess.run([exe, "detect", str(tmp_path / "missing.csv")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_detect_flags_the_contamination_share_of_the_fitted_table(tmp_path, capsys) -> None:
    # knn scores a training row as new data differently (the row is its own neighbour); detect must report
    # the training scores that the threshold was computed from.
    code, _, err = run(["detect", "wine", "-d", "knn", "--contamination", "0.1", "--out", str(tmp_path / "k")], capsys)
    assert code == 0, err
    scores = pd.read_csv(tmp_path / "k" / "scores.csv")
    assert abs(scores["is_anomaly"].mean() - 0.1) < 0.02
