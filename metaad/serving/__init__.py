"""The doors to a fitted model in production: the HTTP scoring service and chunked batch scoring.

``metaad serve MODEL_DIR`` runs :func:`create_app` under uvicorn; :mod:`metaad.serving.batch` scores tables of
any size chunk by chunk.
"""

from metaad.serving.app import create_app
from metaad.serving.state import ServeSettings
from metaad.serving.model import RequestError, ServedModel

__all__ = ["RequestError", "ServeSettings", "ServedModel", "create_app"]
