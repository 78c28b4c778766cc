"""Chunked batch scoring: equal to whole-file scoring, for CSV, TSV, Parquet, folders and globs, in bounded chunks."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import metaad
from metaad.data.preprocessing import MissingValuesWarning
from metaad.data.readers import Table
from metaad.workflow import score_with_model
from metaad.exceptions import DataError, ModelFileError, SchemaError
from metaad.serving.batch import iter_frames, score_table

from tests.serving.conftest import training_frame


@pytest.fixture(scope="module")
def new_table() -> pd.DataFrame:
    frame = training_frame(500, seed=7)
    frame.loc[::50, "amount"] = np.nan  # missing values are imputed the same way in both paths
    frame["label"] = (np.arange(500) % 9 == 0).astype(int)
    return frame


def whole(model_dir, frame: pd.DataFrame, tmp_path) -> pd.DataFrame:
    table = Table(frame=frame.drop(columns=["label"]), labels=frame["label"].to_numpy(), name="t", source="t")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingValuesWarning)  # the planted gaps, imputed on purpose
        return score_with_model(model_dir, table, tmp_path / "whole.csv")


@pytest.mark.parametrize("name", ["iforest", "autoencoder"])
@pytest.mark.parametrize("layout", ["csv", "tsv.gz", "parquet", "folder", "glob"])
def test_chunked_scores_equal_whole_file_scores(model_dirs, new_table, tmp_path, name, layout):
    data = tmp_path / "data"
    data.mkdir()
    if layout == "csv":
        source = data / "t.csv"
        new_table.to_csv(source, index=False)
    elif layout == "tsv.gz":
        source = data / "t.tsv.gz"
        new_table.to_csv(source, index=False, sep="\t")
    elif layout == "parquet":
        source = data / "t.parquet"
        new_table.to_parquet(source, row_group_size=100)
    else:  # three Parquet files, scored in name order with rows numbered across them
        for i, start in enumerate((0, 170, 333)):
            end = {0: 170, 170: 333, 333: 500}[start]
            new_table.iloc[start:end].to_parquet(data / f"part-{i}.parquet")
        source = data if layout == "folder" else data / "part-*.parquet"
    with pytest.warns(MissingValuesWarning):
        rows, flagged = score_table(model_dirs[name], source, tmp_path / "out.csv", chunk_rows=64, label_col="label")
    chunked = pd.read_csv(tmp_path / "out.csv")
    expected = whole(model_dirs[name], new_table, tmp_path)
    assert rows == 500 and flagged == int(expected["is_anomaly"].sum())
    assert chunked.columns.tolist() == ["row", "score", "is_anomaly", "label"]
    assert chunked["row"].tolist() == list(range(500))
    np.testing.assert_allclose(chunked["score"], expected["score"], rtol=1e-9, atol=1e-12)
    assert chunked["is_anomaly"].tolist() == expected["is_anomaly"].tolist()
    assert chunked["label"].tolist() == new_table["label"].tolist()


def test_chunks_never_exceed_the_bound(model_dirs, new_table, tmp_path):
    path = tmp_path / "t.parquet"
    new_table.drop(columns=["label"]).to_parquet(path)
    schema = metaad.load(model_dirs["iforest"]).schema_
    sizes = [len(frame) for frame, _ in iter_frames(path, schema, fmt="parquet", chunk_rows=37)]
    assert max(sizes) == 37 and sum(sizes) == 500
    csv = new_table.drop(columns=["label"]).to_csv(index=False).encode()
    sizes = [len(frame) for frame, _ in iter_frames(io.BytesIO(csv), schema, fmt="csv", chunk_rows=37)]
    assert len(sizes) > 1 and sum(sizes) == 500  # CSV blocks of ~37 x 64 bytes


def test_the_scores_file_gets_the_mode_of_every_other_output(model_dirs, new_table, tmp_path):
    from metaad._io import file_mode

    source = tmp_path / "new.csv"
    new_table.drop(columns=["label"]).to_csv(source, index=False)
    score_table(model_dirs["iforest"], source, tmp_path / "scores.csv", chunk_rows=100)
    assert (tmp_path / "scores.csv").stat().st_mode & 0o777 == file_mode()  # not mkstemp's 0600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_imputation_is_warned_about_once(model_dirs, new_table, tmp_path):
    new_table.to_parquet(tmp_path / "t.parquet")
    with pytest.warns(UserWarning) as caught:
        score_table(model_dirs["iforest"], tmp_path / "t.parquet", tmp_path / "o.csv", chunk_rows=64, label_col="label")
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "8 of 8 chunks" in messages[0] and "'amount'" in messages[0]


def test_the_cli_scores_in_chunks(model_dirs, new_table, tmp_path, capsys):
    from metaad.cli._app import run_app

    new_table.to_parquet(tmp_path / "t.parquet")
    code = run_app(["score", str(model_dirs["iforest"]), str(tmp_path / "t.parquet"), "--out", str(tmp_path / "s.csv"),
                    "--label-col", "label", "--chunk-rows", "50"])
    assert code == 0 and "scored 500 rows" in capsys.readouterr().out
    expected = whole(model_dirs["iforest"], new_table, tmp_path)
    np.testing.assert_allclose(pd.read_csv(tmp_path / "s.csv")["score"], expected["score"], rtol=1e-9)


@pytest.mark.parametrize("content, error, needle", [
    ("amount,age,country,hour\n" + "1,2,fr,3\n" * 40 + "1,abc,fr,3\n", SchemaError, "'age' row 40: value 'abc'"),
    ("amount,age,country\n1,2,fr\n", SchemaError, "missing column(s) ['hour']"),
    ("amount,age,country,hour\n1,2,fr\n", DataError, "is not a readable CSV table"),
])
def test_bad_tables_name_the_problem_and_leave_no_output(model_dirs, tmp_path, content, error, needle):
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(error, match=None) as caught:
        score_table(model_dirs["iforest"], tmp_path / "bad.csv", tmp_path / "out.csv", chunk_rows=8)
    assert needle in str(caught.value)
    assert list(tmp_path.iterdir()) == [tmp_path / "bad.csv"]


def test_bad_sources_and_models(model_dirs, tmp_path):
    with pytest.raises(DataError, match="no file matches"):
        score_table(model_dirs["iforest"], tmp_path / "*.parquet", tmp_path / "o.csv")
    with pytest.raises(DataError, match="holds no .parquet files"):
        score_table(model_dirs["iforest"], tmp_path, tmp_path / "o.csv")
    (tmp_path / "t.json").write_text("{}")
    with pytest.raises(DataError, match="neither CSV/TSV"):
        score_table(model_dirs["iforest"], tmp_path / "t.json", tmp_path / "o.csv")
    bare = metaad.save(metaad.make_detector("ecod").fit(np.random.RandomState(0).normal(size=(30, 2))), tmp_path / "bare")
    training_frame(5).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ModelFileError, match="bare detector"):
        score_table(bare, tmp_path / "t.csv", tmp_path / "o.csv")


def test_empty_table_gives_a_header_only(model_dirs, tmp_path):
    training_frame(0).to_parquet(tmp_path / "empty.parquet")
    assert pq.ParquetFile(tmp_path / "empty.parquet").metadata.num_rows == 0
    assert score_table(model_dirs["iforest"], tmp_path / "empty.parquet", tmp_path / "o.csv") == (0, 0)
    assert (tmp_path / "o.csv").read_text() == "row,score,is_anomaly\n"


def test_errors_name_the_row_across_files(model_dirs, tmp_path):
    good = training_frame(30)
    good.to_csv(tmp_path / "a.csv", index=False)
    bad = training_frame(10).astype({"hour": object})
    bad.loc[4, "hour"] = "noon"
    bad.to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(SchemaError, match="'hour' row 34: value 'noon'"):
        score_table(model_dirs["iforest"], tmp_path / "*.csv", tmp_path / "o.csv", chunk_rows=8)


@pytest.mark.slow  # ~20 s: starts a local Ray instance
@pytest.mark.ray
def test_ray_engine_writes_the_same_file_as_the_local_path(model_dirs, new_table, tmp_path, capsys):
    pytest.importorskip("ray", reason='Ray is not installed (pip install "metaad[ray]")')
    from metaad.cli._app import run_app

    for i, (start, end) in enumerate(((0, 200), (200, 500))):
        new_table.iloc[start:end].to_parquet(tmp_path / f"part-{i}.parquet")
    new_table.to_csv(tmp_path / "t.csv", index=False)
    with pytest.warns(MissingValuesWarning):
        score_table(model_dirs["autoencoder"], tmp_path / "part-*.parquet", tmp_path / "local.csv", label_col="label")
    for source, name in ((tmp_path / "part-*.parquet", "ray.csv"), (tmp_path / "t.csv", "ray_csv.csv")):
        code = run_app(["score", str(model_dirs["autoencoder"]), str(source), "--out", str(tmp_path / name),
                        "--label-col", "label", "--engine", "ray", "--chunk-rows", "64"])
        assert code == 0, capsys.readouterr().err
        ray_out, local = pd.read_csv(tmp_path / name), pd.read_csv(tmp_path / "local.csv")
        assert ray_out.columns.tolist() == local.columns.tolist() == ["row", "score", "is_anomaly", "label"]
        assert ray_out.drop(columns="score").equals(local.drop(columns="score"))
        np.testing.assert_allclose(ray_out["score"], local["score"], rtol=1e-9)
