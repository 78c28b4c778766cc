"""``metaad serve`` as a user runs it: a subprocess on a free port, SIGHUP reload, and logs without the token."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.serving.conftest import TOKEN, fit_and_save, httpx, records, training_frame

AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(args: list[str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    command = [sys.executable, "-c", "from metaad.cli import main; main()", "serve", *args, "--port", str(port)]
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"metaad serve exited with {process.returncode}: {log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError(f"metaad serve did not answer /health: {log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.mark.slow  # ~11 s on 2 busy cores: the subprocess imports torch
def test_serve_with_token_reloads_on_sighup_and_never_logs_the_token(model_dirs, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(model_dirs["iforest"], folder)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    log = tmp_path / "serve.log"
    process, url = start([str(folder), "--token-file", str(token_file), "--max-rows", "10"], log)
    try:
        with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
            body = {"rows": records(training_frame(3))}
            assert client.post("/score", json=body).status_code == 200
            assert httpx.post(f"{url}/score", json=body, headers={"Authorization": f"Bearer {TOKEN[:-2]}"}).status_code == 401
            assert client.post("/score", json={"rows": records(training_frame(11))}).status_code == 413
            before = client.get("/health").json()["model_version"]
            fit_and_save(folder, "autoencoder", max_steps=5, random_state=0)
            process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 60
            while client.get("/health").json()["model_version"] == before and time.monotonic() < deadline:
                time.sleep(0.2)
            assert client.get("/model").json()["detector"] == "autoencoder"
            assert client.post("/score", json=body).status_code == 200
    finally:
        stop(process)
    text = log.read_text()
    assert '"POST /score HTTP/1.1" 401' in text and "model reloaded" in text
    assert TOKEN[:-2] not in text


@pytest.mark.parametrize("args, message", [
    (["--token-file", "/nonexistent/token"], "cannot read the token file"),
    (["--max-rows", "0"], "max_rows=0"),
])
def test_bad_options_fail_with_one_line(model_dirs, args, message, capsys):
    from metaad.cli._app import run_app

    assert run_app(["serve", str(model_dirs["iforest"]), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_folder_that_is_not_a_model_fails_before_serving(tmp_path, capsys):
    from metaad.cli._app import run_app

    assert run_app(["serve", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "manifest.json is missing" in err and "Traceback" not in err


@pytest.mark.slow  # ~40 s: three worker processes import torch
def test_several_workers_restart_on_admin_reload_without_failing_requests(model_dirs, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(model_dirs["iforest"], folder)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    process, url = start([str(folder), "--token-file", str(token_file), "--workers", "2"], tmp_path / "serve.log")
    try:
        with httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
            body = {"rows": records(training_frame(2))}
            before = client.get("/health").json()["model_version"]
            fit_and_save(folder, "iforest", n_estimators=20, random_state=3)
            answer = client.post("/admin/reload")
            assert answer.status_code == 202, answer.text
            assert client.post("/admin/reload", json={"model_dir": str(folder)}).status_code == 409
            versions, deadline = set(), time.monotonic() + 120
            while time.monotonic() < deadline:
                answer = client.post("/score", json=body)
                assert answer.status_code == 200, answer.text
                versions.add(answer.json()["model_version"])
                new = {client.get("/health").json()["model_version"] for _ in range(4)}
                if before not in new:
                    break
                time.sleep(0.1)
            assert before not in new, "the workers were not replaced within 120 s"
    finally:
        stop(process)
