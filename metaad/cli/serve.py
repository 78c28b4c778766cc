"""``metaad serve``: the HTTP scoring service (:mod:`metaad.serving`) under uvicorn."""

from __future__ import annotations

import inspect
import logging
import os
from pathlib import Path
from typing import Optional

import typer

from metaad.cli._app import app, console, fail


@app.command()
def serve(
    model_dir: Path = typer.Argument(..., help="A model directory written by `metaad detect` (its model/ folder)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    workers: int = typer.Option(1, "--workers", help="Worker processes; SIGHUP to the main process then restarts them one by one."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help="File holding a bearer token every endpoint but /health requires."),
    max_rows: int = typer.Option(10_000, "--max-rows", help="Rows per /score request (more: 413)."),
    max_body_bytes: int = typer.Option(10 * 2**20, "--max-body-bytes", help="Bytes per request body (more: 413)."),
    max_file_bytes: int = typer.Option(2**30, "--max-file-bytes", help="Bytes per /score/file upload (more: 413)."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds a request may spend scoring (more: 503)."),
    batch_rows: int = typer.Option(1024, "--batch-rows", help="Rows of concurrent requests scored in one call (0: no batching)."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level: critical, error, warning, info, debug."),
) -> None:
    """Serve a saved model over HTTP: POST /score, POST /score/file, GET /health, /model, /metrics, POST /admin/reload."""
    try:
        import uvicorn

        from metaad.serving.app import create_app
        from metaad.serving.state import ServeSettings
        from metaad.serving.limits import read_token
        from metaad.serving.model import ServedModel
    except ImportError as exc:
        fail(f"`metaad serve` needs the serve extra ({exc.name} is missing): pip install 'metaad[serve]'")
    if workers < 1:
        fail(f"--workers={workers} must be at least 1")
    if not 0 < port < 65536:
        fail(f"--port={port} must be between 1 and 65535")
    token = read_token(token_file) if token_file is not None else None
    settings = ServeSettings(max_rows=max_rows, max_body_bytes=max_body_bytes, max_file_bytes=max_file_bytes,
                             timeout=timeout, token=token, reload_on_sighup=workers == 1, batch_rows=batch_rows)
    settings.check()
    logging.getLogger("metaad.serving").setLevel(logging.INFO)
    if token is None and host not in ("127.0.0.1", "localhost", "::1"):
        logging.getLogger("metaad.serving").warning(
            "serving on %s without --token-file: anyone who reaches this port can score and read /model", host)
    if workers == 1:
        application = create_app(model_dir, settings)
        model = application.state.holder.current
        console.print(f"serving {model.pipeline.detector_.registry_name} model {model.version} from {model_dir} "
                      f"on http://{host}:{port} (SIGHUP or POST /admin/reload reloads it)")
        uvicorn.run(application, host=host, port=port, log_level=log_level, server_header=False)
        return
    model = ServedModel.load(model_dir)  # fail here, once, rather than in every worker
    os.environ.update({
        "METAAD_SERVE_MODEL_DIR": str(model_dir),
        "METAAD_SERVE_MAX_ROWS": str(max_rows),
        "METAAD_SERVE_MAX_BODY_BYTES": str(max_body_bytes),
        "METAAD_SERVE_MAX_FILE_BYTES": str(max_file_bytes),
        "METAAD_SERVE_TIMEOUT": str(timeout),
        "METAAD_SERVE_BATCH_ROWS": str(batch_rows),
    })
    if token_file is not None:
        os.environ["METAAD_SERVE_TOKEN_FILE"] = str(token_file)
    console.print(f"serving {model.pipeline.detector_.registry_name} model {model.version} from {model_dir} "
                  f"on http://{host}:{port} with {workers} workers (SIGHUP to this process restarts them on the "
                  "current model, one at a time)")
    extra = {}
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
        # a replacement worker imports torch and loads the model before it is ready: on 2 busy cores that
        # took longer than uvicorn's default 5 s, which aborted the restart (the old workers kept serving)
        extra["timeout_worker_healthcheck"] = 120
    uvicorn.run("metaad.serving.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, server_header=False, **extra)
