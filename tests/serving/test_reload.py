"""Hot reload: switching models while requests run fails none of them, and a bad model never replaces a good one."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest

import metaad
from metaad.serving import create_app

from tests.serving.conftest import TOKEN, fit_and_save, httpx, records, running, training_frame

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_reload_under_concurrent_requests_fails_none(model_dirs):
    frame = training_frame(20, seed=5)
    body = {"rows": records(frame)}
    expected = {}
    for name, folder in model_dirs.items():
        served = create_app(folder).state.holder.current
        expected[served.version] = metaad.load(folder).decision_function(frame)
    app = create_app(model_dirs["iforest"], token=TOKEN)
    failures, seen, mixed = [], [], []
    stop = threading.Event()

    def hammer(url: str) -> None:
        with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
            while not stop.is_set():
                try:
                    answer = client.post("/score", json=body)
                except httpx.HTTPError as exc:  # a dropped connection is a failed request too
                    failures.append(repr(exc))
                    continue
                if answer.status_code != 200:
                    failures.append(answer.text)
                    continue
                version = answer.json()["model_version"]
                seen.append(version)
                scores = np.array([r["score"] for r in answer.json()["results"]])
                if not np.allclose(scores, expected[version], rtol=1e-6):
                    mixed.append(version)  # a response scored by one model but labelled with another

    with running(app) as url:
        threads = [threading.Thread(target=hammer, args=(url,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        with httpx.Client(base_url=url, headers=AUTH, timeout=60) as admin:
            versions = []
            for name in ("autoencoder", "iforest", "autoencoder", "iforest"):
                before = len(seen)
                answer = admin.post("/admin/reload", json={"model_dir": str(model_dirs[name])})
                assert answer.status_code == 200, answer.text
                versions.append(answer.json()["model_version"])
                while len(seen) < before + 20 and not failures:  # let requests run on this version
                    threading.Event().wait(0.01)
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == [] and mixed == []
    assert set(versions) == set(expected) and set(seen) == set(expected)
    assert len(seen) > 80


def test_reload_in_place_picks_up_the_new_files(model_dirs, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(model_dirs["iforest"], folder)
    app = create_app(folder, token=TOKEN)
    with running(app) as url, httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
        first = client.get("/health").json()["model_version"]
        fit_and_save(folder, "iforest", n_estimators=20, random_state=1)  # atomic replace, as `metaad detect` does
        answer = client.post("/admin/reload")
        assert answer.status_code == 200
        assert answer.json()["previous_version"] == first != answer.json()["model_version"]
        assert client.get("/model").json()["params"]["n_estimators"] == 20


@pytest.mark.parametrize("target", ["missing", "bare detector", "not a model"])
def test_a_failed_reload_keeps_serving_the_old_model(model_dirs, tmp_path, target):
    if target == "bare detector":
        folder = metaad.save(metaad.make_detector("ecod").fit(np.random.RandomState(0).normal(size=(50, 3))), tmp_path / "bare")
    elif target == "not a model":
        folder = tmp_path / "junk"
        folder.mkdir()
        (folder / "manifest.json").write_text("{not json")
    else:
        folder = tmp_path / "nowhere"
    app = create_app(model_dirs["iforest"], token=TOKEN)
    with running(app) as url, httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
        before = client.get("/health").json()["model_version"]
        answer = client.post("/admin/reload", json={"model_dir": str(folder)})
        assert answer.status_code == 422 and str(folder) in answer.json()["error"]
        assert "Traceback" not in answer.text
        assert client.get("/health").json()["model_version"] == before
        assert client.post("/score", json={"rows": records(training_frame(2))}).status_code == 200
        assert 'metaad_model_reloads_total{result="error"} 1' in client.get("/metrics").text
