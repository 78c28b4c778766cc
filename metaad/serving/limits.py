"""Protections around every request: bearer-token checks, body-size limits, and request metrics.

The body limit is enforced twice, so no oversized body is ever buffered: a ``Content-Length`` above the
limit is answered 413 without buffering the body (up to :data:`DRAIN_BYTES` of it is read and discarded first,
so that the client reads the answer rather than a connection reset), and a body sent without one (chunked) is
counted as it arrives and refused with 413 as soon as it passes the limit.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from metaad.exceptions import ParameterError
from metaad.serving.metrics import Metrics

#: Paths reported under their own name in the metrics; any other path counts as "other" (bounded labels).
#: Paths answered without a token (liveness and readiness probes).
OPEN_PATHS = ("/health",)
KNOWN_PATHS = ("/score", "/score/file", "/health", "/model", "/metrics", "/admin/reload", "/openapi.json")


def read_token(path: str | Path) -> str:
    """The bearer token in ``path`` (surrounding whitespace removed).

    Raises
    ------
    ParameterError
        When the file cannot be read or is empty (the message names the file, never its content).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "token"
    >>> _ = p.write_text("s3cret\\n")
    >>> read_token(p)
    's3cret'
    """
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"cannot read the token file {path}: {type(exc).__name__}") from None
    if not token:
        raise ParameterError(f"the token file {path} is empty; put the bearer token on its first line")
    if any(ch.isspace() for ch in token):
        raise ParameterError(f"the token in {path} contains whitespace; a bearer token is one word")
    return token


def token_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>``, compared in constant time.

    Examples
    --------
    >>> token_matches("Bearer abc", "abc"), token_matches("Bearer abd", "abc"), token_matches(None, "abc")
    (True, False, False)
    """
    if not authorization:
        return False
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode("utf-8"), token.encode("utf-8"))


def unauthorized() -> HTTPException:
    """The 401 answer: it says what is missing, never what was presented."""
    return HTTPException(
        status_code=401,
        detail="missing or wrong bearer token: send the header 'Authorization: Bearer <token>'",
        headers={"WWW-Authenticate": "Bearer"},
    )


#: A body declared over the limit but at most this large is read and discarded before the 413 is sent: a client
#: still sending when the server closes the connection sees a reset instead of the answer. Larger ones are
#: answered at once.
DRAIN_BYTES = 16 * 1024 * 1024


def too_large(what: str, limit: int) -> HTTPException:
    return HTTPException(status_code=413, detail=f"{what} exceeds the limit of {limit} bytes")


class GuardMiddleware:
    """ASGI middleware: the bearer token, per-path body-size limits, and request metrics.

    The token is checked before anything is read from the body, so an unauthenticated client cannot make
    the service parse anything; ``/health`` stays open for liveness probes.
    """

    def __init__(
        self, app: ASGIApp, *, metrics: Metrics, body_limit: Callable[[str], int], token: str | None = None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.body_limit = body_limit
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope.get("path", "")
        endpoint = path if path in KNOWN_PATHS else "other"
        status = 500  # what a request that dies before answering counts as

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if self.token is not None and path not in OPEN_PATHS:
                headers = dict(scope.get("headers") or [])
                authorization = headers.get(b"authorization", b"").decode("latin-1")
                if not token_matches(authorization, self.token):
                    error = unauthorized()
                    await JSONResponse({"error": error.detail}, 401, headers=error.headers)(scope, receive, send_counted)
                    return
            limit = self.body_limit(path)
            declared = dict(scope.get("headers") or []).get(b"content-length")
            if declared is not None:
                try:
                    length = int(declared)
                except ValueError:
                    length = -1
                if length < 0:
                    await JSONResponse({"error": "Content-Length is not a byte count"}, 400)(scope, receive, send_counted)
                    return
                if length > limit:
                    error = too_large(f"the request body ({length} bytes)", limit)
                    if length <= DRAIN_BYTES:  # let the client finish sending, so it reads the 413, not a reset
                        while True:
                            message = await receive()
                            if message["type"] != "http.request" or not message.get("more_body", False):
                                break
                    await JSONResponse({"error": error.detail}, 413, headers={"Connection": "close"})(
                        scope, receive, send_counted
                    )
                    return
            received = 0

            async def receive_limited() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise too_large("the request body", limit)
                return message

            await self.app(scope, receive_limited, send_counted)
        finally:
            self.metrics.observe_request(endpoint, status, time.perf_counter() - start)
