"""``metaad export``: a saved model's scoring graph in a portable format (ONNX)."""

from __future__ import annotations

from pathlib import Path

import typer

from metaad.cli._app import app, console, fail


@app.command()
def export(
    model_dir: Path = typer.Argument(..., help="A model directory written by `metaad detect` or metaad.save."),
    format: str = typer.Option("onnx", "--format", help="Export format: onnx."),
    out: Path = typer.Option(..., "--out", help="File to write (e.g. model.onnx)."),
) -> None:
    """Export a deep detector's scoring graph (scaling, network, score) to ONNX."""
    from metaad.persistence import load
    from metaad.serving.onnx_export import export_onnx

    if format != "onnx":
        fail(f"--format={format!r} is not supported; the one format is 'onnx'")
    path = export_onnx(load(model_dir), out)
    console.print(f"wrote {path.resolve()} (input x: the preprocessed matrix as float32; output score)")
