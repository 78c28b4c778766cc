"""Export a deep detector's scoring graph to ONNX (the ``onnx`` extra), for runtimes without Python or torch.

The graph takes the matrix the detector sees (for a pipeline: after ``AnomalyPipeline.transform``, whose
column names are stored in the file's metadata) as float32 and returns one anomaly score per row: the
detector's own scaling, network and score function, so onnxruntime's scores equal ``decision_function``'s
to float32 precision. The table preprocessing (imputation, one-hot encoding) stays in Python.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from metaad._io import atomic_write_bytes
from metaad._version import __version__
from metaad.exceptions import MetaADError, ParameterError


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:
        raise MetaADError('ONNX export needs the onnx package: pip install "metaad[onnx]"') from exc
    return onnx


def _score_graph(detector: Any) -> Any:
    import torch
    from torch import nn

    class ScoreGraph(nn.Module):
        """Scaling, network and score function of one fitted deep detector, as one traceable module."""

        def __init__(self) -> None:
            super().__init__()
            self.network = detector.network_
            self.register_buffer("mean", torch.from_numpy(np.asarray(detector.scaler_mean_, dtype=np.float32)))
            self.register_buffer("scale", torch.from_numpy(np.asarray(detector.scaler_scale_, dtype=np.float32)))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            flat = (x.reshape(x.shape[0], -1) - self.mean) / self.scale
            return detector._score_batch(self.network, flat.reshape(x.shape))

    return ScoreGraph().eval()


def export_onnx(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write the scoring graph of a fitted deep detector (or of a pipeline's) to ``path``, atomically.

    Parameters
    ----------
    model : BaseDetector or AnomalyPipeline
        Fitted; its detector must be a deep one (``autoencoder``, ``vae``, ``deep_svdd``, ``wgan``, ``devnet``).
    path : path
        The ``.onnx`` file. Input ``x`` (float32, rows x features, or rows x image shape), output ``score``.

    Raises
    ------
    ParameterError
        When the detector is not a deep one (PyOD's classical models have no graph to export).
    MetaADError
        When the onnx package is missing.

    Examples
    --------
    >>> import numpy as np, tempfile, metaad
    >>> X = np.random.RandomState(0).normal(size=(200, 4))
    >>> det = metaad.make_detector("autoencoder", max_steps=10, random_state=0).fit(X)
    >>> export_onnx(det, tempfile.mkdtemp() + "/ae.onnx").suffix  # doctest: +SKIP
    '.onnx'
    """
    import torch

    from metaad.detectors.deep import BaseDeepDetector
    from metaad.pipeline import AnomalyPipeline

    onnx = _require_onnx()
    detector = model.detector_ if isinstance(model, AnomalyPipeline) else model
    if not isinstance(detector, BaseDeepDetector):
        raise ParameterError(
            f"only deep detectors export to ONNX (autoencoder, vae, deep_svdd, wgan, devnet); "
            f"{getattr(detector, 'registry_name', type(detector).__name__)} is not one"
        )
    detector._check_fitted()
    graph = _score_graph(detector).to("cpu")
    detector.network_.to("cpu")
    example = torch.zeros((2, *detector.feature_shape_), dtype=torch.float32)
    buffer = io.BytesIO()
    # The TorchScript exporter (dynamo=False) is deprecated in torch 2.9+, but the torch.export one needs the
    # onnxscript package on top; the traced graph is exact here (parity 1e-5 in the tests). Its TracerWarning
    # is about the image networks' shape check, constant for a fixed image shape.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(graph, (example,), buffer, input_names=["x"], output_names=["score"],
                          dynamic_axes={"x": {0: "rows"}, "score": {0: "rows"}}, dynamo=False)
    document = onnx.load_from_string(buffer.getvalue())
    metadata = {
        "metaad_version": __version__,
        "detector": detector.registry_name,
        "params": json.dumps(detector.get_params(deep=False), default=str),
        "threshold": repr(float(detector.threshold_)),
    }
    if isinstance(model, AnomalyPipeline):
        metadata["feature_names"] = json.dumps(list(model.preprocessor_.feature_names_out_))
    for key, value in metadata.items():
        entry = document.metadata_props.add()
        entry.key, entry.value = key, value
    return atomic_write_bytes(path, document.SerializeToString())
