"""Model files written before a parameter was renamed still load (vae/wgan ``score`` -> ``score_type``)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import metaad
from metaad.exceptions import ModelFileError

X = np.random.RandomState(0).normal(size=(200, 3))


def _as_old_file(folder: Path, params_of) -> None:
    """Rewrite ``detector.json`` as metaad 0.1.0 wrote it: ``score`` where ``score_type`` is now."""
    path = folder / "detector.json"
    document = json.loads(path.read_text())
    params = params_of(document)
    params["score"] = params.pop("score_type")
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(("name", "params"), [
    ("vae", {"score_type": "reconstruction", "n_epochs": 2}),
    ("wgan", {"score_type": "critic", "n_epochs": 1, "encoder_epochs": 1}),
])
def test_a_file_with_the_old_name_loads_with_the_same_scores(name: str, params: dict, tmp_path: Path) -> None:
    det = metaad.make_detector(name, random_state=0, **params).fit(X)
    folder = metaad.save(det, tmp_path / "model")
    _as_old_file(folder, lambda document: document["params"])
    loaded = metaad.load(folder)
    assert loaded.get_params()["score_type"] == params["score_type"]
    np.testing.assert_array_equal(loaded.decision_function(X[:20]), det.decision_function(X[:20]))


def test_a_file_with_both_names_is_refused_naming_the_field(tmp_path: Path) -> None:
    folder = metaad.save(metaad.make_detector("vae", n_epochs=1, random_state=0).fit(X), tmp_path / "model")
    document = json.loads((folder / "detector.json").read_text())
    document["params"]["score"] = "elbo"
    (folder / "detector.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match=r"detector\.json: field 'params\.score': vae holds both 'score' and 'score_type'"):
        metaad.load(folder)


def test_an_auto_model_whose_member_has_the_old_name_loads(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = metaad.make_detector("auto", families=("vae",), ensemble_size=1, n_candidates=1, hedge_margin=1.0,
                                   evidence="none", random_state=0).fit(X)
    assert [m.registry_name for m in det.detectors_] == ["vae"]
    folder = metaad.save(det, tmp_path / "model")
    _as_old_file(folder, lambda document: document["fitted"]["members"][0]["params"])
    loaded = metaad.load(folder)
    assert loaded.detectors_[0].score_type == det.detectors_[0].score_type
    np.testing.assert_array_equal(loaded.decision_function(X[:20]), det.decision_function(X[:20]))
