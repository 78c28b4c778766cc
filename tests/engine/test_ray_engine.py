"""The Ray engine on a real local cluster gives the local engine's results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.ray


def test_ray_matches_local(trials: list, local_results: pd.DataFrame, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason='Ray is not installed (pip install "metaad[ray]")')
    from metaad.engine.run import run_benchmark

    trials = [t for t in trials if t.dataset == "easy"]  # keep the test short; every status kind is still there
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        frame = run_benchmark(trials, tmp_path / "ray.parquet", engine="ray", time_limit=60)
    finally:
        ray.shutdown()
    key = ["dataset", "config_id", "seed"]
    merged = frame.merge(local_results, on=key, suffixes=("", "_local"))
    assert len(merged) == len(trials) == len(frame) > 0
    assert set(merged["status"]) == {"ok", "error"}
    assert (merged["status"] == merged["status_local"]).all()
    ok = merged["status"] == "ok"
    for metric in ("auroc", "average_precision", "precision_at_n"):
        np.testing.assert_array_equal(merged.loc[ok, metric], merged.loc[ok, f"{metric}_local"])


def test_missing_ray_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from metaad.engine.ray_engine import import_ray
    from metaad.exceptions import MetaADError

    real_import = builtins.__import__

    def no_ray(name: str, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(MetaADError, match=r"metaad\[ray\]"):
        import_ray()
