"""``search.json``: the trial log and summary of a model chosen by ``metaad.tune`` are saved with it, checked on
load like every other file of the folder, and absent from ordinary models."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import metaad
from metaad.exceptions import ModelFileError


@pytest.fixture()
def tuned(tmp_path):
    X = np.random.RandomState(0).normal(size=(200, 3))
    det = metaad.make_detector("ecod").fit(X)
    det.search_ = pd.DataFrame({"trial": [0, 1], "config_id": ["ecod-1", "knn-2"], "reward": [0.9, float("nan")],
                                "status": ["ok", "failed"]})
    det.tuning_ = {"best": {"config_id": "ecod-1", "reward": 0.9}, "stopped_by": "trials"}
    return det, metaad.save(det, tmp_path / "model")


def test_the_trial_log_comes_back_with_the_model(tuned) -> None:
    det, folder = tuned
    loaded = metaad.load(folder)
    pd.testing.assert_frame_equal(loaded.search_, det.search_, check_dtype=False)
    assert loaded.tuning_ == det.tuning_
    assert json.loads((folder / "search.json").read_text())["trials"][1]["reward"] is None  # NaN is not JSON


def test_an_ordinary_model_has_no_search_file(tmp_path) -> None:
    det = metaad.make_detector("ecod").fit(np.random.RandomState(0).normal(size=(50, 2)))
    folder = metaad.save(det, tmp_path / "model")
    assert not (folder / "search.json").exists() and not hasattr(metaad.load(folder), "search_")


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["trials"][0].update(evil=1), r"search\.json: field 'trials\.0': has 'evil'"),
    (lambda d: d.update(trials="rm -rf"), r"search\.json: field 'trials'"),
    (lambda d: d.update(extra=1), r"search\.json: field 'extra'"),
])
def test_a_tampered_search_file_is_refused_naming_the_field(tuned, edit, message) -> None:
    _, folder = tuned
    document = json.loads((folder / "search.json").read_text())
    edit(document)
    (folder / "search.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match=message):
        metaad.load(folder)
