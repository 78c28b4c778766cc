"""Model files: safe formats only, atomic replacement, clear errors for foreign or newer files."""

from __future__ import annotations

import json

import numpy as np
import pytest

import metaad
from metaad import persistence
from metaad.exceptions import ModelFileError


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return np.random.RandomState(0).normal(size=(200, 4))


def test_crash_mid_save_keeps_previous_model(tmp_path, X, monkeypatch) -> None:
    first = metaad.make_detector("ecod").fit(X)
    folder = metaad.save(first, tmp_path / "model")
    second = metaad.make_detector("ecod").fit(X * 3)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(persistence, "save_file", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        metaad.save(second, folder)
    monkeypatch.undo()
    np.testing.assert_array_equal(metaad.load(folder).decision_function(X), first.decision_function(X))
    assert [p.name for p in tmp_path.iterdir()] == ["model"], "a partial directory was left behind"


def test_newer_format_is_refused_clearly(tmp_path, X) -> None:
    folder = metaad.save(metaad.make_detector("hbos").fit(X), tmp_path / "m")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = 99
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="format 99"):
        metaad.load(folder)


def test_not_a_model_and_incomplete_model(tmp_path, X) -> None:
    with pytest.raises(ModelFileError, match="not a model directory"):
        metaad.load(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="manifest.json is missing"):
        metaad.load(tmp_path / "empty")
    folder = metaad.save(metaad.make_detector("autoencoder", n_epochs=1, random_state=0).fit(X), tmp_path / "ae")
    (folder / "detector.safetensors").unlink()
    with pytest.raises(ModelFileError, match="incomplete"):
        metaad.load(folder)


def test_unregistered_detector_name_is_not_imported(tmp_path, X) -> None:
    folder = metaad.save(metaad.make_detector("ecod").fit(X), tmp_path / "m")
    document = json.loads((folder / "detector.json").read_text())
    document["detector"] = "os.system"
    (folder / "detector.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="detector.json: field 'detector': unknown detector 'os.system'"):
        metaad.load(folder)


def test_refit_mismatch_is_detected(tmp_path, X) -> None:
    folder = metaad.save(metaad.make_detector("knn").fit(X), tmp_path / "m")
    from safetensors.numpy import load_file, save_file

    arrays = load_file(str(folder / "detector.safetensors"))
    arrays["decision_scores"] = arrays["decision_scores"] + 1.0
    save_file(arrays, str(folder / "detector.safetensors"))
    with pytest.raises(ModelFileError, match="did not reproduce"):
        metaad.load(folder)


def test_a_deep_model_saved_before_the_thread_count_was_recorded_still_loads(tmp_path, X) -> None:
    det = metaad.make_detector("autoencoder", n_epochs=1, random_state=0).fit(X)
    folder = metaad.save(det, tmp_path / "m")
    document = json.loads((folder / "detector.json").read_text())
    assert document["fitted"].pop("n_threads") == det.n_threads_ == 1
    (folder / "detector.json").write_text(json.dumps(document))
    loaded = metaad.load(folder)
    assert loaded.n_threads_ is None and loaded._scoring_threads() == 1
    np.testing.assert_array_equal(loaded.decision_function(X), det.decision_function(X))
