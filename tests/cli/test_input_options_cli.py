"""`metaad detect` / `score` with the input options: --sep, --encoding, --drop-cols, --id-col, dates and ids."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from metaad.cli._app import run_app


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = run_app(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def payments() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 150
    frame = pd.DataFrame(
        {
            "txn": [f"T{i:05d}" for i in range(n)],
            "when": pd.date_range("2024-01-01", periods=n, freq="5h").strftime("%Y-%m-%d %H:%M"),
            "amount": rng.gamma(2.0, 20.0, n).round(2),
            "note": rng.choice(["ok", "late", "retry"], n),
            "country": rng.choice(["fr", "de", "it"], n),
        }
    )
    frame.loc[:4, "amount"] += 900
    return frame


def test_semicolon_latin1_table_with_ids_and_dropped_columns(payments, tmp_path, capsys):
    path = tmp_path / "paiements.csv"
    payments.assign(country=payments["country"].map({"fr": "Sète", "de": "Köln", "it": "Forlì"})).to_csv(
        path, sep=";", index=False, encoding="latin-1", decimal=","
    )
    code, _, err = run(["detect", str(path), "--detector", "knn", "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "--encoding latin-1" in err
    out = tmp_path / "out"
    argv = ["detect", str(path), "--detector", "knn", "--encoding", "latin-1", "--id-col", "txn",
            "--drop-cols", "note", "--out", str(out)]
    code, _, err = run(argv, capsys)
    assert code == 0, err
    scores = pd.read_csv(out / "scores.csv")
    assert scores.columns.tolist() == ["row", "txn", "score", "is_anomaly"]
    assert scores["txn"].tolist() == payments["txn"].tolist()
    assert set(scores.nlargest(5, "score")["txn"]) == {f"T{i:05d}" for i in range(5)}
    # the model ignores the id and the dropped column, and reads the dates as dates
    code, _, err = run(["score", str(out / "model"), str(path), "--sep", ";", "--encoding", "latin-1",
                        "--out", str(tmp_path / "again.csv")], capsys)
    assert code == 0, err
    again = pd.read_csv(tmp_path / "again.csv")
    assert again["txn"].tolist() == payments["txn"].tolist()


def test_score_explains_in_sample_scores_of_neighbour_detectors(payments, tmp_path, capsys):
    path = tmp_path / "p.csv"
    payments.to_csv(path, index=False)
    code, _, err = run(["detect", str(path), "--detector", "knn", "--id-col", "txn", "--out", str(tmp_path / "o")],
                       capsys)
    assert code == 0, err
    code, out, err = run(["score", str(tmp_path / "o" / "model"), str(path), "--out", str(tmp_path / "s.csv")],
                         capsys)
    assert code == 0, err
    assert "note: knn scores a row by its distance to the training rows" in " ".join(out.split())
    code, out, _ = run(["score", "--help"], capsys)
    assert "in-sample vs out-of-sample" in " ".join(out.split())


def test_id_like_column_is_left_out_with_a_warning(payments, tmp_path, capsys):
    path = tmp_path / "p.parquet"
    payments.assign(when=pd.to_datetime(payments["when"])).to_parquet(path)  # a real datetime column
    code, _, err = run(["detect", str(path), "--detector", "knn", "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    assert "left out column(s) ['txn']" in " ".join(err.split())
    code, _, err = run(["detect", str(path), "--detector", "knn", "--drop-cols", "nope", "--out", str(tmp_path / "x")],
                       capsys)
    assert code == 2 and "['nope'] to leave out are not in the table" in " ".join(err.split())
