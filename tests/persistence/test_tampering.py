"""Tampered model folders: one ModelFileError naming the file (one line and exit 2 in the CLI), never another
exception, and no code run, over a list of corruptions generated from real saved models of three kinds."""

from __future__ import annotations

import builtins
import contextlib
import json
import math
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file, save_file

import metaad
from metaad.cli._app import run_app
from metaad.exceptions import ModelFileError

# ------------------------------------------------------------------------------------------ no code runs
#: Audit events that mean code is being loaded or run: a module imported, code compiled or executed, a
#: pickle resolving a class, a process started, a library opened.
CODE_EVENTS = ("import", "exec", "compile", "pickle.find_class", "marshal.loads", "os.system", "subprocess.Popen",
               "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "ctypes.dlopen")
_watch: dict[str, Any] = {"on": False, "seen": []}


def _audit(event: str, args: tuple) -> None:
    if _watch["on"] and event in CODE_EVENTS:
        _watch["seen"].append((event, repr(args)[:120]))


sys.addaudithook(_audit)  # cannot be removed; it records only while a test switches it on


@contextlib.contextmanager
def watching_for_code(monkeypatch: pytest.MonkeyPatch) -> Iterator[list]:
    """Record code being loaded or run in the block: audit events, and exec/eval/compile of strings (no event)."""
    for name in ("exec", "eval", "compile"):
        real = getattr(builtins, name)

        def recording(*args, _name=name, _real=real, **kwargs):
            _watch["seen"].append((_name, repr(args)[:120]))
            return _real(*args, **kwargs)

        monkeypatch.setattr(builtins, name, recording)
    _watch["seen"] = []
    _watch["on"] = True
    try:
        yield _watch["seen"]
    finally:
        _watch["on"] = False
        monkeypatch.undo()


# ------------------------------------------------------------------------------------------ the models
KINDS = ("iforest", "autoencoder", "auto")  # the first two as pipelines (with preprocessor.json), auto bare


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.RandomState(0)
    return pd.DataFrame({"amount": rng.lognormal(size=200), "hour": rng.randint(0, 24, 200).astype(float),
                         "country": rng.choice(["fr", "de", "es"], 200)})


@pytest.fixture(scope="module")
def saved(tmp_path_factory, frame) -> dict[str, Path]:
    """One small fitted model per kind, saved once; every case corrupts a copy."""
    base = tmp_path_factory.mktemp("models")
    numeric = frame[["amount", "hour"]].to_numpy()
    models = {
        "iforest": metaad.AnomalyPipeline(metaad.make_detector("iforest", n_estimators=5, random_state=0)).fit(frame),
        "autoencoder": metaad.AnomalyPipeline(metaad.make_detector("autoencoder", n_epochs=2, random_state=0)).fit(frame),
        "auto": metaad.make_detector("auto", ensemble_size=2, n_candidates=3, hedge_margin=1.0, evidence="none",
                                     families=("iforest", "knn", "hbos", "ecod"), random_state=0).fit(numeric),
    }
    folders = {kind: metaad.save(model, base / kind) for kind, model in models.items()}
    for folder in folders.values():  # warm up: every module a load needs is imported before watching
        metaad.load(folder)
    broken = base / "warm"
    shutil.copytree(folders["autoencoder"], broken)
    (broken / "detector.json").write_text("[]")
    with pytest.raises(ModelFileError):
        metaad.load(broken)
    return folders


def _inputs(kind: str, frame: pd.DataFrame) -> Any:
    return frame[["amount", "hour"]].to_numpy() if kind == "auto" else frame


# ------------------------------------------------------------------------------------------ corruptions
DELETE = object()


@dataclass(frozen=True)
class Corruption:
    """One way of damaging a model folder: ``apply(folder)`` edits a copy in place; ``file`` is the file hit."""

    id: str
    kind: str
    file: str
    apply: Callable[[Path], None]


def _set_path(document: Any, path: tuple[Any, ...], value: Any) -> None:
    node = document
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        if not (isinstance(node, list) and path[-1] >= len(node)):
            del node[path[-1]]
    elif isinstance(node, list) and path[-1] >= len(node):
        node.append(value)
    else:
        node[path[-1]] = value


def _edit_json(name: str, path: tuple[Any, ...], value: Any) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        document = json.loads((folder / name).read_text())
        _set_path(document, path, value)
        (folder / name).write_text(json.dumps(document))

    return apply


def _replace_file(name: str, how: str) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / name
        original = path.read_bytes()
        path.unlink()
        if how == "delete":
            return
        if how == "directory":
            path.mkdir()
        elif how == "dev-zero":
            path.symlink_to("/dev/zero")
        elif how == "link-outside":  # a link to a good copy outside the folder: still refused
            outside = folder.parent / f"{folder.name}-outside-{name}"
            outside.write_bytes(original)
            path.symlink_to(outside)
        elif how == "link-inside":
            (folder / f"copy-{name}").write_bytes(original)
            path.symlink_to(f"copy-{name}")
        elif how == "huge":
            with open(path, "wb") as handle:  # sparse: costs no disk
                handle.truncate(65 * 1024 * 1024)
        elif how == "padded":  # good content followed by a sparse terabyte: refused before reading it
            path.write_bytes(original)
            with open(path, "r+b") as handle:
                handle.truncate(2**40)
        elif how == "truncated":
            path.write_bytes(original[: len(original) // 2])
        elif how == "nested":
            path.write_text("[" * 50_000 + "]" * 50_000)
        else:
            path.write_bytes({"empty": b"", "garbage": b"\x00\xff garbage", "[]": b"[]", "null": b"null",
                              "text": b'"model"', "{}": b"{}", "unclosed": b'{"format": '}[how])

    return apply


def _edit_array(selector: str, how: str) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        arrays = load_file(str(folder / "detector.safetensors"))
        key = selector if selector in arrays else sorted(k for k in arrays if k.startswith(selector))[0]
        value = arrays[key]
        if how == "delete":
            del arrays[key]
        elif how in ("nan", "inf"):
            value = value.copy()
            value.flat[0] = np.nan if how == "nan" else np.inf
            arrays[key] = value
        elif how == "zero":
            arrays[key] = np.zeros_like(value)
        elif how == "short":
            arrays[key] = np.ascontiguousarray(value[:-1])
        elif how == "extra-axis":
            arrays[key] = np.ascontiguousarray(value[None])
        elif how == "transposed":
            arrays[key] = np.ascontiguousarray(value.T if value.ndim > 1 else value[:, None])
        elif how == "float16":
            arrays[key] = value.astype(np.float16)
        elif how == "int64":
            arrays[key] = value.astype(np.int64)
        elif how == "unknown-array":
            arrays["payload"] = np.zeros(3)
        save_file(arrays, str(folder / "detector.safetensors"))

    return apply


JSON_FILES = {"iforest": ("manifest.json", "detector.json", "preprocessor.json", "pipeline.json"),
              "autoencoder": ("manifest.json", "detector.json", "preprocessor.json", "pipeline.json"),
              "auto": ("manifest.json", "detector.json")}
FILE_DAMAGE = ("delete", "directory", "dev-zero", "link-outside", "link-inside", "huge", "truncated", "nested", "empty",
               "garbage", "[]", "null", "text", "{}", "unclosed")
ARRAY_FILE_DAMAGE = ("delete", "directory", "dev-zero", "link-outside", "truncated", "empty", "garbage", "huge",
                     "padded")
#: Fields of each JSON file, by kind (lists by their first item); every one gets every value of VALUES.
FIELDS: dict[str, dict[str, tuple[tuple[Any, ...], ...]]] = {
    "manifest.json": {k: (("format",), ("format_version",), ("metaad_version",), ("kind",), ("detector",)) for k in KINDS},
    "detector.json": {
        "iforest": (("detector",), ("params",), ("fitted",), ("params", "n_estimators"), ("params", "max_samples"),
                    ("params", "contamination"), ("params", "threshold"), ("params", "random_state"),
                    ("fitted", "state"), ("fitted", "threshold")),
        "autoencoder": (("detector",), ("params",), ("fitted",), ("params", "n_threads"), ("params", "batch_size"),
                        ("params", "device"), ("params", "contamination"), ("fitted", "architecture"),
                        ("fitted", "architecture", "hidden_sizes"), ("fitted", "architecture", "hidden_sizes", 0),
                        ("fitted", "architecture", "latent_size"), ("fitted", "architecture", "activation"),
                        ("fitted", "architecture", "dropout"), ("fitted", "feature_shape"), ("fitted", "feature_shape", 0),
                        ("fitted", "feature_shape", 1), ("fitted", "threshold"), ("fitted", "history"),
                        ("fitted", "history", "train_loss"), ("fitted", "history", "best_epoch"), ("fitted", "n_threads")),
        "auto": (("detector",), ("params",), ("fitted",), ("params", "ensemble_size"), ("fitted", "members"),
                 ("fitted", "members", 0), ("fitted", "members", 2), ("fitted", "members", 0, "detector"),
                 ("fitted", "members", 0, "params"), ("fitted", "members", 0, "fitted"),
                 ("fitted", "members", 0, "fitted", "threshold"), ("fitted", "members", 1, "fitted", "state"),
                 ("fitted", "selected"), ("fitted", "candidates"), ("fitted", "explanation"), ("fitted", "ensemble"),
                 ("fitted", "threshold"), ("fitted", "n_features_in"), ("fitted", "feature_shape"),
                 ("fitted", "feature_shape", 0)),
    },
    "preprocessor.json": {k: (("format",), ("state_version",), ("params",), ("params", "scaling"),
                              ("params", "categorical"), ("params", "max_categories"), ("fitted",), ("schema",),
                              ("schema", "columns"), ("schema", "columns", 0), ("schema", "columns", 0, "name"),
                              ("schema", "columns", 0, "kind"), ("schema", "columns", 2, "categories"), ("column_stats",),
                              ("column_stats", 0), ("column_stats", 0, "center"), ("column_stats", 0, "scale"),
                              ("column_stats", 0, "fill"), ("column_stats", 2, "categories"), ("column_stats", 2, "other"))
                          for k in ("iforest", "autoencoder")},
    "pipeline.json": {k: (("feature_names_in",), ("feature_names_in", 0)) for k in ("iforest", "autoencoder")},
}
VALUES = {"missing": DELETE, "null": None, "text": "abc", "negative": -1, "huge": 10**12, "list": [1]}
#: Values the issue names, and a few more in the same spirit.
EXTRA_VALUES = {
    ("detector.json", ("params", "n_estimators")): {"1e8": 100_000_000},
    ("detector.json", ("fitted", "feature_shape", 0)): {"1e9": 1e9, "int-1e9": 1_000_000_000},
    ("detector.json", ("fitted", "threshold")): {"nan": float("nan"), "inf": float("inf")},
    ("detector.json", ("fitted", "members")): {"empty": []},
    ("detector.json", ("fitted", "members", 0, "detector")): {"auto": "auto", "os.system": "os.system"},
    ("detector.json", ("params", "n_threads")): {"1e9": 1_000_000_000},
    ("detector.json", ("fitted", "n_threads")): {"1e9": 1_000_000_000},
    ("detector.json", ("params", "max_samples")): {"big-float": 7.5},
    ("preprocessor.json", ("state_version",)): {"string-2": "2", "newer": 2},
    ("preprocessor.json", ("column_stats", 0, "scale")): {"zero": 0.0, "nan": float("nan")},
    ("preprocessor.json", ("column_stats", 0, "center")): {"inf": float("inf")},
}
ARRAYS = {"iforest": ("X_train", "decision_scores"),
          "autoencoder": ("scaler_mean", "scaler_scale", "decision_scores", "network.encoder", "network.decoder"),
          "auto": ("decision_scores", "member0.X_train", "member1.decision_scores")}
ARRAY_DAMAGE = ("delete", "nan", "inf", "zero", "short", "extra-axis", "transposed", "float16", "int64", "unknown-array")


def generate_corruptions() -> list[Corruption]:
    cases = []
    for kind in KINDS:
        for name in JSON_FILES[kind]:
            cases += [Corruption(f"{kind}-{name}-is-{how}", kind, name, _replace_file(name, how)) for how in FILE_DAMAGE]
            for path in FIELDS[name][kind]:
                label = ".".join(map(str, path))
                values = {**VALUES, **EXTRA_VALUES.get((name, path), {})}
                cases += [Corruption(f"{kind}-{name}-{label}={tag}", kind, name, _edit_json(name, path, value))
                          for tag, value in values.items()]
        name = "detector.safetensors"
        cases += [Corruption(f"{kind}-{name}-is-{how}", kind, name, _replace_file(name, how)) for how in ARRAY_FILE_DAMAGE]
        cases += [Corruption(f"{kind}-{name}-{array}-{how}", kind, name, _edit_array(array, how))
                  for array in ARRAYS[kind] for how in ARRAY_DAMAGE]
    return cases


CORRUPTIONS = generate_corruptions()
#: The cases the issue reports, with what the error must say (file and field).
ISSUE_CASES = {
    "autoencoder-manifest.json-is-[]": r"manifest\.json",
    "autoencoder-manifest.json-is-null": r"manifest\.json",
    "autoencoder-manifest.json-is-directory": r"manifest\.json is a directory",
    "iforest-manifest.json-is-dev-zero": r"manifest\.json is a symbolic link \(to /dev/zero\)",
    "iforest-detector.json-is-link-outside": r"detector\.json is a symbolic link",
    "iforest-detector.json-params=text": r"detector\.json: field 'params'",
    "autoencoder-detector.json-fitted=missing": r"detector\.json: field 'fitted'",
    "iforest-detector.json-fitted.threshold=text": r"detector\.json: field 'fitted\.threshold'",
    "autoencoder-detector.json-fitted.threshold=nan": r"field 'fitted\.threshold'.*finite",
    "iforest-detector.safetensors-X_train-delete": r"detector\.safetensors: array 'X_train' is missing",
    "autoencoder-detector.json-fitted.history=missing": r"field 'fitted\.history'",
    "autoencoder-detector.safetensors-network.encoder-transposed": r"array 'network\.encoder.*' has shape .* needs",
    "autoencoder-detector.json-fitted.architecture.latent_size=huge": r"field 'fitted\.architecture'",
    "iforest-preprocessor.json-column_stats.0.center=null": r"preprocessor\.json: field 'column_stats\[0\]\.numeric\.center'",
    "iforest-preprocessor.json-state_version=string-2": r"preprocessor\.json: field 'state_version'",
    "auto-detector.json-fitted.members=empty": r"field 'fitted\.members'",
    "iforest-detector.json-params.n_estimators=1e8": r"field 'params\.n_estimators': 100000000 is above",
    "autoencoder-detector.json-fitted.feature_shape.0=1e9": r"field 'fitted\.feature_shape\[0\]'",
    "autoencoder-detector.json-fitted.feature_shape.0=int-1e9": r"field 'fitted\.feature_shape'",
    "autoencoder-detector.safetensors-network.encoder-nan": r"array 'network\.encoder.*' holds a non-finite value",
    "autoencoder-detector.safetensors-scaler_scale-zero": r"array 'scaler_scale' holds 0\.0",
    "iforest-preprocessor.json-column_stats.0.scale=zero": r"field 'column_stats\[0\]\.numeric\.scale'",
    "auto-detector.json-fitted.members.0.detector=auto": r"cannot be a member",
    "auto-detector.json-fitted.members.0.detector=os.system": r"field 'fitted\.members\[0\]\.detector': unknown detector",
}


def test_the_issue_cases_are_generated() -> None:
    assert set(ISSUE_CASES) <= {c.id for c in CORRUPTIONS}
    assert len(CORRUPTIONS) == len({c.id for c in CORRUPTIONS})


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tampered")  # one folder for all cases: tmp_path per case doubles the time


@pytest.mark.filterwarnings("ignore:max_samples:UserWarning")
@pytest.mark.parametrize("case", CORRUPTIONS, ids=lambda c: c.id)
def test_a_tampered_model_is_one_model_file_error_and_runs_no_code(case: Corruption, saved, frame, scratch,
                                                                    monkeypatch) -> None:
    folder = scratch / "model"
    for leftover in scratch.iterdir():
        shutil.rmtree(leftover) if leftover.is_dir() and not leftover.is_symlink() else leftover.unlink()
    shutil.copytree(saved[case.kind], folder, symlinks=True)
    case.apply(folder)
    with watching_for_code(monkeypatch) as code_run:
        try:
            model = metaad.load(folder)
            scores = model.decision_function(_inputs(case.kind, frame))
        except ModelFileError as exc:
            error: ModelFileError | None = exc
        else:
            error = None
    assert code_run == [], f"code ran while loading: {code_run[:3]}"
    if error is not None:
        message = str(error)
        assert case.id not in ISSUE_CASES or re.search(ISSUE_CASES[case.id], message), message
        assert case.file in message or str(folder) in message, f"the error does not name {case.file}: {message}"
        assert "\n" not in message
    else:  # damage that leaves a consistent model (a free-text field, weights set to zero) may load; it must work
        assert case.id not in ISSUE_CASES, f"{case.id} loaded"
        assert "-is-" not in case.id, f"{case.id} loaded"
        assert np.isfinite(scores).all()


# ------------------------------------------------------------------------------------------ the CLI
CLI_CASES = [c for c in CORRUPTIONS if c.id in ISSUE_CASES and c.kind != "auto"]


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.id)
def test_metaad_score_on_a_tampered_model_prints_one_line_and_exits_2(case, saved, frame, tmp_path, capsys) -> None:
    folder = tmp_path / "model"
    shutil.copytree(saved[case.kind], folder, symlinks=True)
    case.apply(folder)
    table = tmp_path / "table.csv"
    frame.to_csv(table, index=False)
    code = run_app(["score", str(folder), str(table), "--out", str(tmp_path / "scores.csv")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error:") and err.count("\n") == 1, err
    assert not (tmp_path / "scores.csv").exists()


def test_a_good_model_still_loads_with_its_scores(saved, frame) -> None:
    for kind, folder in saved.items():
        model = metaad.load(folder)
        again = metaad.load(folder)
        X = _inputs(kind, frame)
        np.testing.assert_array_equal(model.decision_function(X), again.decision_function(X))
        assert math.isfinite(model.threshold_)
