"""The knowledge a selector learns from: the shipped knowledge base, extended by the user's own results.

The shipped knowledge base (:mod:`metaad.meta.knowledge`) holds the performance matrices. The selector compares
datasets by :func:`metaad.meta.landmarks.selection_features`; those of the shipped datasets are shipped next to
this module (``selection_features.csv``, written by ``benchmarks/bench_selection.py --write-features``).

A user extends the knowledge with ``metaad knowledge add --results results.parquet --data DIR``. The results rows
(the benchmark's format) and the meta-features of their datasets are stored in a user folder, never inside the
installed package: ``--knowledge-dir``, else ``$METAAD_KNOWLEDGE_DIR``, else ``~/.metaad/knowledge``::

    results.parquet            every added results row, one per (dataset, config_id, seed)
    selection_features.csv     datasets x meta-features of the added datasets
    manifest.json              what was added, when

:func:`load_selection_data` merges both; a user dataset with the same name as a shipped one replaces it.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaad.exceptions import DataError
from metaad.meta.landmarks import FEATURES_VERSION, selection_features
from metaad.meta.selector import SelectionData

logger = logging.getLogger(__name__)

SHIPPED_FEATURES = Path(__file__).with_name("selection_features.csv")


def user_knowledge_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The user's knowledge folder: ``path``, else ``$METAAD_KNOWLEDGE_DIR``, else ``~/.metaad/knowledge``."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get("METAAD_KNOWLEDGE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".metaad" / "knowledge"


def dataset_features(paths: dict[str, str], *, include_base: bool = True) -> pd.DataFrame:
    """Datasets x :func:`selection_features` of each dataset file (``name -> path``), on the full table."""
    from metaad.data.readers import read_table

    rows = {}
    for name, path in paths.items():
        X = read_table(path).frame.to_numpy(dtype=np.float64)
        rows[name] = selection_features(X, include_base=include_base)
    frame = pd.DataFrame(rows).T
    frame.index.name = "dataset"
    return frame


def read_features(path: Path) -> pd.DataFrame:
    """A features table written by :func:`write_features`; checks its feature-set version."""
    frame = pd.read_csv(path, index_col="dataset", comment="#")
    header = path.read_text().splitlines()[0]
    if header != f"# features_version={FEATURES_VERSION}":
        raise DataError(f"{path}: meta-features of another version ({header!r}); recompute them")
    return frame


def write_features(frame: pd.DataFrame, path: Path) -> None:
    """Write a features table as CSV with a version line (atomically)."""
    from metaad._io import atomic_write_text

    atomic_write_text(path, f"# features_version={FEATURES_VERSION}\n" + frame.to_csv(float_format="%.10g"))


def _matrices(results: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from metaad.meta.knowledge import performance_matrices

    auroc, ap = performance_matrices(results)
    configs = results.drop_duplicates("config_id").set_index("config_id")[["family", "params_json"]]
    return auroc, ap, configs


def load_selection_data(knowledge: Any = None, *, user_dir: str | os.PathLike[str] | None = None,
                        include_user: bool = True) -> SelectionData:
    """The knowledge a selector trains on: the shipped (or given) knowledge base plus the user's additions.

    Parameters
    ----------
    knowledge : path or KnowledgeBase, optional
        A knowledge base folder or object (default: the shipped one).
    user_dir : path, optional
        The user's knowledge folder (see :func:`user_knowledge_dir`).
    include_user : bool, default True
        Merge the user's added results.

    Raises
    ------
    DataError
        When no knowledge base is installed and the user added none.
    """
    from metaad.meta.knowledge import KnowledgeBase, load_knowledge

    parts: list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]] = []
    try:
        kb = knowledge if isinstance(knowledge, KnowledgeBase) else load_knowledge(knowledge)
        features = read_features(SHIPPED_FEATURES) if knowledge is None or isinstance(knowledge, KnowledgeBase) \
            else _features_for(Path(knowledge), kb)
        parts.append((kb.performance, kb.average_precision, features, kb.configurations))
    except DataError:
        if knowledge is not None:
            raise
        logger.warning("no shipped knowledge base found; using the user's knowledge only")
    folder = user_knowledge_dir(user_dir)
    if include_user and (folder / "results.parquet").exists():
        results = pd.read_parquet(folder / "results.parquet")
        auroc, ap, configs = _matrices(results)
        parts.append((auroc, ap, read_features(folder / "selection_features.csv"), configs))
    if not parts:
        raise DataError("no knowledge base: the shipped one is missing and none was added with `metaad knowledge add`")
    return _merge(parts)


def _features_for(folder: Path, kb: Any) -> pd.DataFrame:
    """Selection features of a knowledge base folder: its own ``selection_features.csv`` or the shipped table."""
    own = folder / "selection_features.csv"
    table = read_features(own if own.exists() else SHIPPED_FEATURES)
    missing = [d for d in kb.performance.index if d not in table.index]
    if missing:
        raise DataError(f"{folder}: no selection meta-features for {len(missing)} dataset(s), e.g. {missing[0]!r}; "
                        "add them with `metaad knowledge add --data`")
    return table


def _merge(parts: list[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]]) -> SelectionData:
    auroc, ap, features, configs = parts[0]
    for more_auroc, more_ap, more_features, more_configs in parts[1:]:
        keep = auroc.index.difference(more_auroc.index)
        auroc = pd.concat([auroc.loc[keep], more_auroc], axis=0)
        ap = pd.concat([ap.loc[keep], more_ap], axis=0)
        features = pd.concat([features.drop(index=more_features.index, errors="ignore"), more_features], axis=0)
        configs = pd.concat([configs, more_configs[~more_configs.index.isin(configs.index)]], axis=0)
    return SelectionData(auroc, features, configs, ap)


def add_knowledge(results: str | os.PathLike[str] | pd.DataFrame, data: list[str | os.PathLike[str]], *,
                  user_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Add benchmark results (and the meta-features of their datasets) to the user's knowledge.

    Parameters
    ----------
    results : path or DataFrame
        Rows in the benchmark's format (``dataset, config_id, family, params_json, seed, auroc,
        average_precision, status``), e.g. from ``metaad benchmark``.
    data : list of paths
        Files or folders holding the datasets named in the results.
    user_dir : path, optional
        The user's knowledge folder (see :func:`user_knowledge_dir`).

    Returns
    -------
    dict
        ``folder``, ``added_datasets``, ``n_datasets`` (in the merged knowledge) and ``n_rows`` (user rows).

    Raises
    ------
    DataError
        When the results lack a column, hold no successful trial, or name a dataset not found in ``data``.
    """
    from metaad._io import atomic_write_bytes, atomic_write_text
    from metaad.engine.benchmark import TRIAL_KEY, discover_datasets, load_results

    frame = results.copy() if isinstance(results, pd.DataFrame) else load_results(results)
    needed = {"dataset", "config_id", "family", "params_json", "seed", "auroc", "average_precision", "status"}
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise DataError(f"the results lack column(s) {', '.join(missing)}")
    if not (frame["status"] == "ok").any():
        raise DataError("the results hold no successful trial (status 'ok')")
    names = sorted(frame["dataset"].astype(str).unique())
    paths = discover_datasets(data) if data else {}
    unknown = [n for n in names if n not in paths]
    if unknown:
        raise DataError(f"datasets in the results but not found in --data: {', '.join(unknown)}")
    folder = user_knowledge_dir(user_dir)
    folder.mkdir(parents=True, exist_ok=True)
    old_path = folder / "results.parquet"
    if old_path.exists():
        frame = pd.concat([frame, pd.read_parquet(old_path)], ignore_index=True)
    frame = frame.drop_duplicates(subset=list(TRIAL_KEY), keep="first").reset_index(drop=True)
    from metaad.meta.recommend import INCLUDE_BASE_FEATURES

    features = dataset_features({n: paths[n] for n in names}, include_base=INCLUDE_BASE_FEATURES)
    old_features = folder / "selection_features.csv"
    if old_features.exists():
        previous = read_features(old_features)
        features = pd.concat([previous.drop(index=features.index, errors="ignore"), features], axis=0)
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    atomic_write_bytes(old_path, buffer.getvalue())
    write_features(features, old_features)
    manifest = {"features_version": FEATURES_VERSION, "n_rows": len(frame),
                "datasets": sorted(frame["dataset"].astype(str).unique()),
                "updated": datetime.now(UTC).isoformat(timespec="seconds")}
    atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    clear_cache()
    merged = load_selection_data(user_dir=folder)
    return {"folder": str(folder), "added_datasets": names, "n_datasets": len(merged.datasets), "n_rows": len(frame)}


@lru_cache(maxsize=4)
def _cached_selector(user_dir: str, stamp: tuple[float, ...], include_base: bool,
                     settings: tuple[tuple[str, Any], ...]) -> Any:
    from metaad.meta.selector import SelectionData, Selector

    data = load_selection_data(user_dir=user_dir)
    if not include_base:
        keep = [c for c in data.features.columns if not c.startswith("base.")]
        data = SelectionData(data.performance, data.features[keep], data.configurations, data.average_precision)
    return Selector(**dict(settings)).fit(data)


def trained_selector(*, user_dir: str | os.PathLike[str] | None = None, include_base: bool = False,
                     **settings: Any) -> Any:
    """A selector trained on the shipped plus user knowledge, cached until either changes on disk.

    ``include_base=False`` leaves out the ``base.`` meta-features (:func:`selection_features`).
    """
    from metaad.meta.knowledge import default_knowledge_path

    folder = user_knowledge_dir(user_dir)
    stamp = tuple(p.stat().st_mtime if p.exists() else 0.0 for p in (
        folder / "results.parquet", SHIPPED_FEATURES, default_knowledge_path() / "performance_auroc.parquet"))
    return _cached_selector(str(folder), stamp, bool(include_base), tuple(sorted(settings.items())))


def clear_cache() -> None:
    """Forget the cached selectors (after the knowledge changed)."""
    _cached_selector.cache_clear()


__all__ = ["add_knowledge", "clear_cache", "dataset_features", "load_selection_data", "read_features",
           "trained_selector", "user_knowledge_dir", "write_features"]
