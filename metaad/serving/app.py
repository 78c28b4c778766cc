"""The HTTP scoring service: a FastAPI application around one hot-swappable model.

Endpoints: ``POST /score`` (JSON rows or columns), ``POST /score/file`` (a CSV or Parquet body, answered as
CSV), ``GET /health``, ``GET /model``, ``GET /metrics`` (Prometheus text), ``POST /admin/reload`` and
``GET /openapi.json``. Every answer that is not a success is JSON ``{"error": ..., "detail": ...}`` without
a stack trace; unexpected errors are logged here with an id that the 500 answer repeats.

Small all-numeric ``/score`` requests (records, no ``explain``) take the fast path of
:mod:`metaad.serving.fastpath` on the event loop; everything else, and any request the fast path declines,
is validated into a frame and scored in a worker thread, micro-batched with concurrent requests.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import tempfile
import threading
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pandas as pd
from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from metaad._version import __version__
from metaad.exceptions import MetaADError
from metaad.serving.batch import iter_frames, score_frames, sniff_format
from metaad.serving.batching import LoopBatcher, MicroBatcher
from metaad.serving.fastpath import LOOP_BATCH_ROWS
from metaad.serving.limits import GuardMiddleware, read_token, too_large
from metaad.serving.metrics import Metrics
from metaad.serving.model import RequestError, ScoreResult, ServedModel
from metaad.serving.state import ModelHolder, ServeSettings

logger = logging.getLogger("metaad.serving")


class ScoreRequest(BaseModel):
    """Rows to score: ``rows`` (one object per row) or ``columns`` (one list per column), not both."""

    model_config = ConfigDict(extra="forbid")
    rows: list[Any] | None = Field(None, description="Records: one JSON object per row, keyed by column name.")
    columns: dict[str, Any] | None = Field(None, description="Columns: one JSON list per column, of equal lengths.")


class ReloadRequest(BaseModel):
    """Which model to switch to: another model directory, or (empty) the current one re-read."""

    model_config = ConfigDict(extra="forbid")
    model_dir: str | None = None


def _error(status: int, message: str, detail: Any = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, headers=headers)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
        first = detail[0] if detail else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        content_type = request.headers.get("content-type", "")
        if first["loc"] == ["body"] and "json" not in content_type:
            first = {**first, "msg": f"expected a JSON object with Content-Type: application/json, got {content_type or 'no Content-Type'!r}"}
        return _error(422, f"{where}: {first['msg']}" if where else first["msg"], detail)

    @app.exception_handler(RequestError)
    async def invalid_rows(request: Request, exc: RequestError) -> JSONResponse:
        first = exc.errors[0]
        return _error(422, f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}", exc.errors)

    @app.exception_handler(MetaADError)
    async def invalid_data(request: Request, exc: MetaADError) -> JSONResponse:
        return _error(422, str(exc))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        error_id = uuid.uuid4().hex[:12]
        logger.error("error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
        return _error(500, f"internal error (id {error_id}; the server log has the details)")


async def _within(timeout: float, function: Callable[[], Awaitable[Any]]) -> Any:
    """Await ``function()``; answer 503 when it takes longer than ``timeout`` seconds."""
    try:
        with anyio.fail_after(timeout):
            return await function()
    except TimeoutError:
        raise HTTPException(503, f"scoring took longer than the request timeout ({timeout:g} s)") from None


async def _in_thread(timeout: float, function: Callable[..., Any], *args: Any) -> Any:
    """Run ``function`` in a worker thread; answer 503 when it takes longer than ``timeout`` seconds."""
    return await _within(timeout, lambda: anyio.to_thread.run_sync(function, *args, abandon_on_cancel=True))


def create_app(model_dir: str | Path, settings: ServeSettings | None = None, **options: Any) -> FastAPI:
    """The scoring service for the model saved in ``model_dir`` (the ``model/`` folder of ``metaad detect``).

    Parameters
    ----------
    model_dir : path
        A pipeline saved by ``metaad detect`` or :func:`metaad.save`; loaded now, so a bad folder fails here.
    settings : ServeSettings, optional
        Limits, token and reload options; keyword ``options`` override its fields
        (``create_app(folder, max_rows=100, token="...")``).

    Examples
    --------
    >>> import tempfile, pandas as pd, metaad
    >>> df = pd.DataFrame({"amount": [1.0, 2.0, 1.5, 50.0] * 10, "country": ["fr", "de", "fr", "xx"] * 10})
    >>> folder = metaad.save(metaad.AnomalyPipeline(metaad.make_detector("ecod")).fit(df), tempfile.mkdtemp() + "/m")
    >>> app = create_app(folder, max_rows=1000)
    >>> sorted(route.path for route in app.routes if "POST" in getattr(route, "methods", ()))
    ['/admin/reload', '/score', '/score/file']
    >>> app.state.holder.current.pipeline.detector_.registry_name
    'ecod'
    """
    settings = ServeSettings(**{**(settings or ServeSettings()).__dict__, **options})
    settings.check()
    holder = ModelHolder(model_dir)
    metrics = Metrics()
    batchers: weakref.WeakKeyDictionary[ServedModel, MicroBatcher] = weakref.WeakKeyDictionary()
    loop_batchers: weakref.WeakKeyDictionary[ServedModel, LoopBatcher] = weakref.WeakKeyDictionary()

    def batcher_for(model: ServedModel) -> MicroBatcher:
        """The batcher of one model version (created on the event loop, so never twice)."""
        if model not in batchers:
            batchers[model] = MicroBatcher(model, max_rows=settings.batch_rows)
        return batchers[model]

    def loop_batcher_for(model: ServedModel) -> LoopBatcher:
        """The event-loop batcher of one model version, for the fast path."""
        if model not in loop_batchers:
            loop_batchers[model] = LoopBatcher(model, max_rows=min(settings.batch_rows, LOOP_BATCH_ROWS))
        return loop_batchers[model]

    async def reload_model(model_dir: str | None = None) -> tuple[ServedModel, ServedModel]:
        try:
            old, new = await anyio.to_thread.run_sync(holder.reload, model_dir)
        except Exception:
            metrics.observe_reload(False)
            raise
        metrics.observe_reload(True)
        logger.info("model reloaded: %s (%s) replaces %s", new.version, new.model_dir, old.version)
        return old, new

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.reload_on_sighup and threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGHUP"):
            loop = asyncio.get_running_loop()

            def on_hup() -> None:
                async def run() -> None:
                    try:
                        await reload_model()
                    except Exception as exc:  # keep serving the old model, say why
                        logger.error("reload on SIGHUP failed, still serving %s: %s", holder.current.version, exc)

                loop.create_task(run())

            loop.add_signal_handler(signal.SIGHUP, on_hup)
            logger.info("SIGHUP reloads the model from %s", holder.model_dir)
        yield

    app = FastAPI(
        title="metaad scoring service",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.settings = settings
    app.add_middleware(
        GuardMiddleware,
        metrics=metrics,
        body_limit=lambda path: settings.max_file_bytes if path == "/score/file" else settings.max_body_bytes,
        token=settings.token,
    )
    _install_handlers(app)

    def answer(model: ServedModel, n_rows: int, result: ScoreResult | None, explain: bool) -> dict[str, Any]:
        """The JSON answer of ``/score`` (and its counts in the metrics)."""
        flagged = int(result.is_anomaly.sum()) if result is not None else 0
        metrics.observe_rows(n_rows, flagged)
        body: dict[str, Any] = {
            "model_version": model.version,
            "detector": model.pipeline.detector_.registry_name,
            "threshold": float(model.pipeline.threshold_),
            "n_rows": n_rows,
            "n_flagged": flagged,
            "results": model.result_rows(result) if result is not None else [],
        }
        if explain:
            body["explained"] = model.explains and result is not None
        if result is not None and result.warnings:
            body["warnings"] = result.warnings
        return body

    @app.post("/score")
    async def score(
        request: ScoreRequest = Body(...),
        explain: bool = Query(False, description="Add per-feature contributions where the detector has them."),
    ) -> JSONResponse:
        """Score JSON rows against the model's schema: per row ``score``, ``is_anomaly`` (and ``contributions``)."""
        model = holder.current
        if (request.rows is None) == (request.columns is None):
            raise RequestError([{"loc": ["body"], "msg": "send exactly one of 'rows' or 'columns'", "type": "value_error"}])
        if request.rows is not None:
            n_rows = len(request.rows)
        else:
            n_rows = max((len(v) for v in request.columns.values() if isinstance(v, list)), default=0)
        if n_rows > settings.max_rows:
            raise HTTPException(413, f"{n_rows} rows exceed the limit of {settings.max_rows} rows per request")

        if not explain and request.rows is not None:
            # small all-numeric requests: scored here on the event loop, no frame and no worker thread (the
            # general path below gives the same answer and takes over whenever this one declines)
            matrix = model.fast_matrix(request.rows)
            if matrix is not None:
                if settings.batch_rows:
                    fast = await _within(settings.timeout, lambda: loop_batcher_for(model).score(matrix))
                else:
                    fast = model.score_matrix(matrix)
                return JSONResponse(answer(model, n_rows, fast, explain=False))

        def validate() -> pd.DataFrame:
            if request.rows is not None:
                return model.rows_to_frame(request.rows)
            return model.columns_to_frame(request.columns)

        async def run() -> dict[str, Any]:
            frame = await anyio.to_thread.run_sync(validate)
            if not len(frame):
                result = None
            elif settings.batch_rows:
                result = await batcher_for(model).score(frame, explain=explain)
            else:
                result = await anyio.to_thread.run_sync(lambda: model.score(frame, explain=explain))
            return answer(model, len(frame), result, explain=explain)

        return JSONResponse(await _within(settings.timeout, run))

    @app.post(
        "/score/file",
        response_class=StreamingResponse,
        openapi_extra={"requestBody": {"required": True, "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        }}},
    )
    async def score_file(request: Request) -> StreamingResponse:
        """Score a CSV or Parquet body (the whole file as the request body); answer ``row,score,is_anomaly`` CSV."""
        model = holder.current
        upload = tempfile.SpooledTemporaryFile(max_size=8 * 2**20)
        output = tempfile.SpooledTemporaryFile(max_size=8 * 2**20)
        try:
            size = 0
            async for block in request.stream():
                size += len(block)
                if size > settings.max_file_bytes:
                    raise too_large("the upload", settings.max_file_bytes)
                await anyio.to_thread.run_sync(upload.write, block)
            if size == 0:
                raise HTTPException(422, "the upload is empty: send a CSV or Parquet file as the request body")
            upload.seek(0)
            fmt = sniff_format(upload.read(4), request.headers.get("content-type"))
            upload.seek(0)

            def run() -> tuple[int, int]:
                text = io.TextIOWrapper(output, encoding="utf-8", newline="")
                try:
                    counts = score_frames(model, iter_frames(upload, model.schema, fmt=fmt), text)
                    text.flush()
                finally:
                    text.detach()
                return counts

            rows, flagged = await _in_thread(settings.timeout, run)
        except BaseException:
            upload.close()
            output.close()
            raise
        upload.close()
        metrics.observe_rows(rows, flagged)
        output.seek(0)

        async def stream() -> AsyncIterator[bytes]:
            try:
                while block := await anyio.to_thread.run_sync(output.read, 1 << 16):
                    yield block
            finally:
                output.close()

        headers = {"X-Model-Version": model.version, "X-Rows": str(rows), "X-Flagged": str(flagged)}
        return StreamingResponse(stream(), media_type="text/csv", headers=headers)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness and readiness: answers 200 once the model is loaded (it is loaded before the server starts)."""
        model = holder.current
        return {"status": "ok", "model_loaded": True, "model_version": model.version,
                "detector": model.pipeline.detector_.registry_name}

    @app.get("/model")
    async def describe() -> dict[str, Any]:
        """The model being served: detector, parameters, schema, threshold, versions, dates, ``auto``'s choice."""
        return holder.current.describe()

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> PlainTextResponse:
        """Counters in the Prometheus text format."""
        model = holder.current
        text = metrics.render(model_version=model.version, detector=model.pipeline.detector_.registry_name)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.post("/admin/reload")
    async def reload(request: ReloadRequest | None = Body(None)) -> Any:
        """Switch to a new model (``{"model_dir": ...}``, or the current folder re-read) without dropping a request."""
        if settings.token is None:
            raise HTTPException(403, "/admin/reload needs a token (start with --token-file); without one, send SIGHUP")
        target = request.model_dir if request is not None else None
        if settings.supervised:
            if target is not None:
                raise HTTPException(409, "with several workers the model folder is fixed: replace its content "
                                    "(metaad.save is atomic) and reload without model_dir")
            os.kill(os.getppid(), signal.SIGHUP)
            return JSONResponse({"status": "restarting workers", "model_dir": str(holder.model_dir)}, status_code=202)
        old, new = await reload_model(target)
        return {"status": "reloaded", "previous_version": old.version, "model_version": new.version,
                "model_dir": str(new.model_dir), "detector": new.pipeline.detector_.registry_name}

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        """The OpenAPI document, with the request rows described by the served model's schema."""
        document = app.openapi()
        row = holder.current.row_json_schema()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(row.get("$defs", {}))
        rows = schemas["ScoreRequest"]["properties"]["rows"]
        rows["anyOf"] = [{"type": "array", "items": {"$ref": "#/components/schemas/Row"}}, {"type": "null"}]
        return JSONResponse(document)

    return app


def app_from_environment() -> FastAPI:
    """The app ``uvicorn --workers N`` builds in each worker, from ``METAAD_SERVE_*`` variables set by
    ``metaad serve`` (the token is read from its file, never passed through the environment)."""
    token_file = os.environ.get("METAAD_SERVE_TOKEN_FILE")
    settings = ServeSettings(
        max_rows=int(os.environ["METAAD_SERVE_MAX_ROWS"]),
        max_body_bytes=int(os.environ["METAAD_SERVE_MAX_BODY_BYTES"]),
        max_file_bytes=int(os.environ["METAAD_SERVE_MAX_FILE_BYTES"]),
        timeout=float(os.environ["METAAD_SERVE_TIMEOUT"]),
        batch_rows=int(os.environ.get("METAAD_SERVE_BATCH_ROWS", "1024")),
        token=read_token(token_file) if token_file else None,
        supervised=True,
    )
    return create_app(os.environ["METAAD_SERVE_MODEL_DIR"], settings)
