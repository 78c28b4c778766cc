"""A real service for the serving tests: uvicorn on a free 127.0.0.1 port, in a thread, per module."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metaad

uvicorn = pytest.importorskip("uvicorn", reason="the serve extra (fastapi, uvicorn) is not installed")
httpx = pytest.importorskip("httpx", reason="httpx (test extra) is not installed")

TOKEN = "t0k-3n_f0r-t3sts-9f8e7d"


def training_frame(n_rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Mixed-type training data: two numeric columns, one categorical, one integer column."""
    rng = np.random.RandomState(seed)
    return pd.DataFrame({
        "amount": rng.gamma(2.0, 10.0, n_rows),
        "age": rng.randint(18, 80, n_rows).astype(float),
        "country": rng.choice(["fr", "de", "it"], n_rows),
        "hour": rng.randint(0, 24, n_rows),
    })


def records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready records of a frame (plain Python numbers and strings)."""
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in frame.to_dict("records")]


def fit_and_save(folder: Path, name: str, **params) -> Path:
    pipe = metaad.AnomalyPipeline(metaad.make_detector(name, **params)).fit(training_frame())
    return metaad.save(pipe, folder)


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two small fitted models (fast: an iforest of 50 trees, an autoencoder trained for 20 steps)."""
    root = tmp_path_factory.mktemp("models")
    return {
        "iforest": fit_and_save(root / "iforest", "iforest", n_estimators=50, random_state=0),
        "autoencoder": fit_and_save(root / "autoencoder", "autoencoder", max_steps=20, random_state=0),
    }


@contextmanager
def running(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, log_level="info", lifespan="on", server_header=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
