"""What every command promises: exit status 2 and one line on stderr for a user error, 130 when interrupted,
text printed literally (brackets survive), unwrapped output in a pipe, examples in --help, and output folders
of the user's that are never replaced without --force."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metaad._version import __version__
from metaad.cli._app import run_app

ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = run_app(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_process(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m metaad.cli ARGV` as a user's shell runs it (stdout and stderr are pipes)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "metaad.cli", *argv], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def results_like(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("p") / "not_results.parquet"
    pd.DataFrame({"a": [1, 2]}).to_parquet(path)
    return path


USAGE_ERRORS = [
    (["detect"], "Missing argument 'INPUT'"),
    (["detect", "wine", "--bogus"], "No such option: --bogus"),
    (["detect", "wine", "--contamination", "abc"], "'--contamination'"),
    (["detect", "wine", "--seed", "-1"], "'--seed'"),
    (["benchmark", "--data", "x", "--out", "r.parquet", "--detectors", "ecod", "--max-rows", "5"], "'--max-rows'"),
    (["score", "model", "table.csv"], "Missing option '--out'"),
    (["benchmark-report", "{results}", "--out", "rep"], "not a results file of `metaad benchmark`"),
    (["benchmark", "--data", "x", "--out", "r.parquet"], "exactly one of --zoo NAME or --detectors"),
    (["detect", "wine", "-p", "foo"], "--param expects KEY=VALUE, got 'foo'"),
    (["benchmark", "--data", "x", "--out", "r.parquet", "--detectors", "ecod", "--seeds", "a,b"], "--seeds expects"),
    (["detectors", "nope"], "unknown detector 'nope'"),
]


@pytest.mark.parametrize("argv, expected", USAGE_ERRORS, ids=[" ".join(a[:3]) for a, _ in USAGE_ERRORS])
def test_a_user_error_is_one_line_and_exit_2(argv, expected, results_like, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("{results}", str(results_like)) for a in argv]
    code, _, err = run(argv, capsys)
    assert code == 2, err
    assert expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


def test_usage_errors_through_the_console_script() -> None:
    result = run_process(["detect", "wine", "--contamination", "abc"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_no_arguments_lists_the_commands_and_exits_2(capsys) -> None:
    code, _, err = run([], capsys)
    assert code == 2 and "detect" in err and "Traceback" not in err


def test_version(capsys) -> None:
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"metaad {__version__}"


def test_an_interrupt_exits_130(monkeypatch, capsys) -> None:
    import metaad.workflow

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(metaad.workflow, "detect", interrupted)
    code, _, err = run(["detect", "wine", "-d", "ecod"], capsys)
    assert code == 130 and "Traceback" not in err


def test_square_brackets_survive_in_messages(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["detect", "pay[ment]s.csv"], capsys)
    assert code == 2 and "pay[ment]s.csv" in err
    frame = pd.DataFrame({"temp[c]": np.arange(30.0), "b": np.arange(30.0) % 7})
    frame.loc[3, "temp[c]"] = np.nan
    frame.to_csv(tmp_path / "t[1].csv", index=False)
    code, out, err = run(["detect", "t[1].csv", "-d", "ecod", "--out", "o"], capsys)
    assert code == 0, err
    assert "temp[c]" in err  # the missing-value warning names the column as it is
    assert "t[1]" in out

    from metaad.exceptions import ParameterError

    def needs_ray(*args, **kwargs):
        raise ParameterError('the Ray engine needs Ray: pip install "metaad[ray]"')

    import metaad.workflow

    monkeypatch.setattr(metaad.workflow, "detect", needs_ray)
    code, _, err = run(["detect", "wine"], capsys)
    assert code == 2 and 'pip install "metaad[ray]"' in err


def test_piped_output_is_not_wrapped(tmp_path) -> None:
    result = run_process(["detectors"])
    assert result.returncode == 0
    line = next(row for row in result.stdout.splitlines() if "autoencoder" in row)
    assert len(line) > 80  # the description is on the same line, not wrapped at 80 columns


def test_every_help_has_examples(capsys) -> None:
    commands = [[], ["detect"], ["score"], ["detectors"], ["datasets"], ["benchmark"], ["benchmark-report"],
                ["select"], ["knowledge", "build"], ["knowledge", "info"], ["knowledge", "add"]]
    for command in commands:
        code, out, _ = run([*command, "--help"], capsys)
        assert code == 0 and "Examples:" in out and "metaad " in out.split("Examples:")[1], command
    code, out, _ = run(["detect", "--help"], capsys)
    for label in ("--param KEY=VALUE", "--out PATH", "--seed INT", "--contamination SHARE", "--force"):
        assert label in out
    assert "<str>" not in out and "list[str]" not in out


def test_detectors_name_lists_parameters_with_defaults_and_meaning(capsys) -> None:
    code, out, _ = run(["detectors", "autoencoder"], capsys)
    assert code == 0
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") >= 3}
    row = rows["max_steps"]
    assert "250" in row and "optimizer steps" in row
    row = rows["contamination"]
    assert "0.1" in row and "Expected fraction of anomalies" in row  # inherited from the base class


# ----------------------------------------------------------------------------------------------------------
# --out and the user's folders

def test_out_on_a_folder_metaad_did_not_write_is_refused_unless_force(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("proj").mkdir()
    Path("proj/notes.txt").write_text("x")
    code, _, err = run(["detect", "wine", "-d", "ecod", "--out", "proj"], capsys)
    assert code == 2 and "proj" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert Path("proj/notes.txt").read_text() == "x" and sorted(os.listdir()) == ["proj"]
    code, _, err = run(["detect", "wine", "-d", "ecod", "--out", "proj", "--force"], capsys)
    assert code == 0, err
    assert not Path("proj/notes.txt").exists() and Path("proj/scores.csv").exists()
    marker = json.loads(Path("proj/.metaad-output").read_text())
    assert marker["written_by"] == "metaad" and marker["command"] == "detect"
    # a folder metaad wrote is replaced without --force
    code, _, err = run(["detect", "wine", "-d", "hbos", "--out", "proj"], capsys)
    assert code == 0, err
    assert json.loads(Path("proj/metrics.json").read_text())["detector"] == "hbos"
    assert sorted(os.listdir()) == ["proj"]


def test_out_on_an_output_of_an_older_metaad_without_marker_is_replaced(tmp_path, capsys) -> None:
    old = tmp_path / "old"
    old.mkdir()
    for name in ("scores.csv", "metrics.json", "report.html"):
        (old / name).write_text("{}")
    code, _, err = run(["detect", "wine", "-d", "ecod", "--out", str(old)], capsys)
    assert code == 0, err


@pytest.mark.parametrize("out", [".", "..", "notes.txt"])
def test_out_on_the_current_folder_or_a_file_is_refused_and_leaves_nothing(out, tmp_path, capsys, monkeypatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    Path("notes.txt").write_text("x")
    code, _, err = run(["detect", "wine", "-d", "ecod", "--out", out, "--force"], capsys)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert ("is a file" in err) if out == "notes.txt" else ("current folder" in err)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["notes.txt", "work"]
    assert Path("notes.txt").read_text() == "x"


def test_score_out_naming_a_folder_is_one_line(tmp_path, capsys) -> None:
    code, _, err = run(["detect", "wine", "-d", "ecod", "--out", str(tmp_path / "m")], capsys)
    assert code == 0, err
    code, _, err = run(["score", str(tmp_path / "m" / "model"), "wine", "--out", str(tmp_path)], capsys)
    assert code == 2 and "is a folder" in err and "Traceback" not in err


def test_two_runs_into_one_folder_one_gets_a_clear_error(tmp_path, capsys) -> None:
    from metaad._io import atomic_directory

    target = tmp_path / "out"
    with atomic_directory(target):  # another run is writing `out` right now
        code, _, err = run(["detect", "wine", "-d", "ecod", "--out", str(target)], capsys)
    assert code == 2 and "another metaad process is writing" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the first run's (empty) result, no debris
    assert list(target.iterdir()) == []
