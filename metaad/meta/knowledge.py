"""The knowledge base: how every zoo configuration performed on every benchmark dataset, and what each dataset
looks like (its meta-features). The selector learns from it.

On disk a knowledge base is a folder:

``manifest.json``
    ``format_version``, ``zoo``, ``n_datasets``, ``n_configurations``, ``seeds``, ``max_rows``, ``command``,
    ``date``, ``metaad_version``, ``meta_features_version``, ``build_seconds`` and the trial status counts;
``performance_auroc.parquet``, ``performance_ap.parquet``
    datasets x configuration ids, the mean over seeds of the test AUROC / average precision (NaN where every
    seed failed);
``meta_features.parquet``
    datasets x meta-features (:func:`metaad.meta.features.compute_meta_features` on the full dataset);
``configurations.parquet``
    ``config_id``, ``family``, ``params_json``.

The shipped one lives in the package (``metaad/knowledge/``) and is found with :mod:`importlib.resources`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from metaad.exceptions import DataError, ModelFileError

logger = logging.getLogger(__name__)

#: The on-disk format this version writes and reads.
KNOWLEDGE_FORMAT_VERSION = 1
_FILES = ("manifest.json", "performance_auroc.parquet", "performance_ap.parquet", "meta_features.parquet", "configurations.parquet")


@dataclass
class KnowledgeBase:
    """A loaded knowledge base (see the module docstring for the files).

    Attributes
    ----------
    performance : pandas.DataFrame
        Datasets x configuration ids: mean test AUROC over seeds.
    average_precision : pandas.DataFrame
        The same for average precision.
    meta_features : pandas.DataFrame
        Datasets x meta-features.
    configurations : pandas.DataFrame
        ``config_id`` (index), ``family``, ``params_json``.
    manifest : dict
        What was built, from what, how and when.
    """

    performance: pd.DataFrame
    average_precision: pd.DataFrame
    meta_features: pd.DataFrame
    configurations: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        """The manifest's headline: sizes, seeds, build command and date."""
        keys = ("format_version", "zoo", "n_datasets", "n_configurations", "seeds", "max_rows", "command", "date",
                "metaad_version", "build_seconds")
        return {k: self.manifest.get(k) for k in keys}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the folder atomically (a crash leaves the previous one intact)."""
        from metaad._io import atomic_directory

        with atomic_directory(path) as tmp:
            (tmp / "manifest.json").write_text(json.dumps(self.manifest, indent=2, sort_keys=True) + "\n")
            self.performance.to_parquet(tmp / "performance_auroc.parquet")
            self.average_precision.to_parquet(tmp / "performance_ap.parquet")
            self.meta_features.to_parquet(tmp / "meta_features.parquet")
            self.configurations.to_parquet(tmp / "configurations.parquet")
            readme = Path(path) / "README.md"
            if readme.exists():  # keep the shipped folder's README
                (tmp / "README.md").write_text(readme.read_text())
        return Path(path)


def default_knowledge_path() -> Path:
    """The shipped knowledge base's folder (inside the installed package)."""
    from importlib.resources import files

    return Path(str(files("metaad") / "knowledge"))


def load_knowledge(path: str | os.PathLike[str] | None = None) -> KnowledgeBase:
    """Load a knowledge base folder (default: the shipped one).

    Raises
    ------
    DataError
        When the folder or one of its files is missing.
    ModelFileError
        When it was written in another format version.

    Examples
    --------
    >>> kb = load_knowledge()
    >>> kb.performance.shape == (kb.manifest["n_datasets"], kb.manifest["n_configurations"])
    True
    >>> list(kb.performance.index) == list(kb.meta_features.index)
    True
    """
    folder = Path(path) if path is not None else default_knowledge_path()
    missing = [name for name in _FILES if not (folder / name).exists()]
    if missing:
        raise DataError(f"{folder}: not a knowledge base (missing {', '.join(missing)})")
    manifest = json.loads((folder / "manifest.json").read_text())
    version = manifest.get("format_version")
    if version != KNOWLEDGE_FORMAT_VERSION:
        raise ModelFileError(
            f"{folder}: knowledge base format version {version!r}; this metaad reads version {KNOWLEDGE_FORMAT_VERSION} "
            "(rebuild it with `metaad knowledge build`)"
        )
    return KnowledgeBase(
        performance=pd.read_parquet(folder / "performance_auroc.parquet"),
        average_precision=pd.read_parquet(folder / "performance_ap.parquet"),
        meta_features=pd.read_parquet(folder / "meta_features.parquet"),
        configurations=pd.read_parquet(folder / "configurations.parquet"),
        manifest=manifest,
    )


def performance_matrices(results: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """AUROC and AP matrices (datasets x config ids, mean over seeds, failed trials ignored) from results rows.

    Examples
    --------
    >>> rows = pd.DataFrame({"dataset": ["a", "a", "b"], "config_id": ["x", "x", "x"], "seed": [0, 1, 0],
    ...                      "auroc": [0.6, 0.8, 0.5], "average_precision": [0.1, 0.3, 0.2], "status": ["ok"] * 3})
    >>> performance_matrices(rows)[0].round(2).to_dict()
    {'x': {'a': 0.7, 'b': 0.5}}
    """
    ok = results[results["status"] == "ok"]
    datasets = sorted(results["dataset"].unique())
    configs = sorted(results["config_id"].unique())
    out = []
    for metric in ("auroc", "average_precision"):
        matrix = ok.pivot_table(index="dataset", columns="config_id", values=metric, aggfunc="mean")
        matrix = matrix.reindex(index=datasets, columns=configs).astype("float64")
        matrix.index.name, matrix.columns.name = "dataset", None
        out.append(matrix)
    return out[0], out[1]


def build_knowledge(
    results: str | os.PathLike[str] | pd.DataFrame,
    data: list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    zoo_name: str | None = None,
    max_rows: int | None = None,
    command: str = "",
    build_seconds: float | None = None,
) -> KnowledgeBase:
    """Build a knowledge base from benchmark results and the datasets they were run on, and save it to ``out``.

    Parameters
    ----------
    results : path or DataFrame
        Benchmark results (:func:`metaad.engine.benchmark.load_results`).
    data : list of paths
        Files or folders holding the datasets named in the results (for the meta-features).
    out : path
        The knowledge base folder (written atomically).
    zoo_name, max_rows, command, build_seconds
        Recorded in the manifest.

    Raises
    ------
    DataError
        When a dataset in the results is not found in ``data``.
    """
    from metaad import __version__
    from metaad.engine.benchmark import discover_datasets, load_results
    from metaad.meta.features import META_FEATURES_VERSION, compute_meta_features

    frame = results if isinstance(results, pd.DataFrame) else load_results(results)
    if frame.empty:
        raise DataError("the results hold no trial")
    auroc, ap = performance_matrices(frame)
    empty = [str(d) for d in auroc.index[auroc.isna().all(axis=1)]]
    if empty:  # every trial failed there (e.g. a subsample without anomalies): nothing to learn from
        logger.warning("datasets left out of the knowledge base, every trial failed: %s", ", ".join(empty))
        auroc, ap = auroc.drop(index=empty), ap.drop(index=empty)
    if auroc.empty:
        raise DataError("every trial failed: no dataset to build a knowledge base from")
    paths = discover_datasets(data)
    missing = [d for d in auroc.index if d not in paths]
    if missing:
        raise DataError(f"datasets in the results but not in --data: {', '.join(missing)}")
    from metaad.engine.benchmark import load_dataset

    meta = pd.DataFrame({name: compute_meta_features(load_dataset(paths[name])[0]) for name in auroc.index}).T
    meta.index.name = "dataset"
    configs = frame.drop_duplicates("config_id").set_index("config_id")[["family", "params_json"]].sort_index()
    manifest = {
        "format_version": KNOWLEDGE_FORMAT_VERSION,
        "zoo": zoo_name,
        "n_datasets": int(auroc.shape[0]),
        "n_configurations": int(auroc.shape[1]),
        "seeds": sorted(int(s) for s in frame["seed"].unique()),
        "max_rows": max_rows,
        "command": command,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "metaad_version": __version__,
        "meta_features_version": META_FEATURES_VERSION,
        "build_seconds": build_seconds,
        "trial_status": {str(k): int(v) for k, v in frame["status"].value_counts().items()},
        "families": sorted(configs["family"].unique().tolist()),
        "excluded_datasets": empty,
    }
    kb = KnowledgeBase(auroc, ap, meta, configs, manifest)
    kb.save(out)
    return kb
