"""The knowledge base: how every zoo configuration did on every benchmark *task*, and what each task looks like.

A task is one dataset at one size (``"shuttle@5000"``: the dataset's stratified 5,000-row subsample; a dataset
smaller than a size is that dataset at its own size). Performance depends on size (a kNN with few neighbours
that wins on 500 rows can lose badly on 50,000, where clustered anomalies mask each other), so the selector
learns from tasks at several sizes, with the row count among the meta-features.

On disk a knowledge base is a folder, written atomically:

``manifest.json``
    ``format_version``, ``zoo``, ``n_tasks``, ``n_datasets``, ``n_configurations``, ``sizes``, ``seeds``,
    ``command``, ``date``, ``metaad_version``, ``meta_features_version``, ``build_seconds``, trial status counts;
``tasks.parquet``
    one row per task (index ``task``): ``dataset``, ``n_rows``;
``performance_auroc.parquet``, ``performance_ap.parquet``
    tasks x configuration ids, the mean over seeds of the test AUROC / average precision (NaN where no seed
    finished);
``seconds.parquet``
    tasks x configuration ids, the mean fit + score seconds of the finished trials (the cost the selector weighs);
``meta_features.parquet``
    tasks x :func:`metaad.meta.features.meta_features` of the task's training part (seed 0's protocol split,
    scaled: what a detector is fitted on);
``configurations.parquet``
    ``config_id`` (index), ``family``, ``params_json``.

The shipped one lives in the package (``metaad/knowledge/``). A user extends it with
``metaad knowledge add``: their own tasks, in the same format, in a folder of their own (:func:`user_knowledge_dir`),
merged with the shipped one when a selector is trained (:func:`load_merged_knowledge`); a user task replaces a
shipped task of the same name.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metaad.benchmark.store import performance_matrices, task_name
from metaad.exceptions import DataError, ModelFileError

logger = logging.getLogger(__name__)

#: The on-disk format this version writes and reads.
KNOWLEDGE_FORMAT_VERSION = 2
_TABLES = ("tasks", "performance_auroc", "performance_ap", "seconds", "meta_features", "configurations")
_FILES = ("manifest.json", *(f"{name}.parquet" for name in _TABLES))


@dataclass
class KnowledgeBase:
    """A loaded knowledge base (see the module docstring for the files).

    Attributes
    ----------
    tasks : pandas.DataFrame
        Index ``task``; columns ``dataset`` and ``n_rows``.
    performance, average_precision, seconds : pandas.DataFrame
        Tasks x configuration ids: mean test AUROC, average precision and fit + score seconds over seeds.
    meta_features : pandas.DataFrame
        Tasks x meta-features.
    configurations : pandas.DataFrame
        ``config_id`` (index), ``family``, ``params_json``.
    manifest : dict
        What was built, from what, how and when.
    """

    tasks: pd.DataFrame
    performance: pd.DataFrame
    average_precision: pd.DataFrame
    seconds: pd.DataFrame
    meta_features: pd.DataFrame
    configurations: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        index = self.tasks.index
        for name in ("performance", "average_precision", "seconds", "meta_features"):
            table = getattr(self, name)
            if not table.index.equals(index):
                missing = sorted(set(index) - set(table.index))[:3]
                raise DataError(f"knowledge base: {name} does not cover the same tasks as the task table"
                                + (f" (e.g. {', '.join(missing)})" if missing else ""))
        unknown = [c for c in self.performance.columns if c not in self.configurations.index]
        if unknown:
            raise DataError(f"knowledge base: {len(unknown)} configuration(s) have results but no description, e.g. {unknown[0]!r}")

    @property
    def datasets(self) -> list[str]:
        """The distinct datasets, in task order."""
        return list(dict.fromkeys(self.tasks["dataset"]))

    def info(self) -> dict[str, Any]:
        """The manifest's headline: sizes, seeds, build command and date."""
        keys = ("format_version", "zoo", "n_tasks", "n_datasets", "n_configurations", "sizes", "seeds", "command",
                "date", "metaad_version", "build_seconds")
        return {k: self.manifest.get(k) for k in keys}

    def select_tasks(self, keep: Sequence[str]) -> KnowledgeBase:
        """The same knowledge restricted to the tasks ``keep`` (in that order)."""
        keep = list(keep)
        return KnowledgeBase(self.tasks.loc[keep], self.performance.loc[keep], self.average_precision.loc[keep],
                             self.seconds.loc[keep], self.meta_features.loc[keep], self.configurations, dict(self.manifest))

    def drop_datasets(self, datasets: Sequence[str] | str) -> KnowledgeBase:
        """The same knowledge without every task of ``datasets`` (for leave-one-dataset-out).

        Examples
        --------
        >>> kb = synthetic_knowledge(n_datasets=6)
        >>> kb.drop_datasets("d00").datasets[:2]
        ['d01', 'd02']
        """
        names = {datasets} if isinstance(datasets, str) else set(datasets)
        return self.select_tasks([t for t, d in zip(self.tasks.index, self.tasks["dataset"]) if d not in names])

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the folder atomically (a crash leaves the previous one intact)."""
        from metaad._io import atomic_directory

        readme = Path(path) / "README.md"
        kept = readme.read_text() if readme.exists() else None
        with atomic_directory(path) as tmp:
            self.write_into(tmp)
            if kept is not None:  # keep the shipped folder's README
                (tmp / "README.md").write_text(kept)
        return Path(path)

    def write_into(self, folder: Path) -> None:
        """Write the knowledge base's files into ``folder`` (not atomic: :meth:`save` is)."""
        (folder / "manifest.json").write_text(json.dumps(self.manifest, indent=2, sort_keys=True) + "\n")
        for name, table in zip(_TABLES, (self.tasks, self.performance, self.average_precision, self.seconds,
                                         self.meta_features, self.configurations)):
            table.to_parquet(folder / f"{name}.parquet")


def default_knowledge_path() -> Path:
    """The shipped knowledge base's folder (inside the installed package)."""
    from importlib.resources import files

    return Path(str(files("metaad") / "knowledge"))


def load_knowledge(path: str | os.PathLike[str] | None = None) -> KnowledgeBase:
    """Load a knowledge base folder (default: the shipped one).

    Raises
    ------
    DataError
        When the folder or one of its files is missing or unreadable.
    ModelFileError
        When it was written in another format version or with other meta-features.

    Examples
    --------
    >>> kb = load_knowledge()
    >>> kb.performance.shape == (kb.manifest["n_tasks"], kb.manifest["n_configurations"])
    True
    >>> list(kb.performance.index) == list(kb.meta_features.index) == list(kb.tasks.index)
    True
    """
    from metaad.meta.features import META_FEATURES_VERSION

    folder = Path(path) if path is not None else default_knowledge_path()
    missing = [name for name in _FILES if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder}: not a knowledge base (missing {', '.join(missing)})")
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{folder / 'manifest.json'}: unreadable ({exc})") from None
    if not isinstance(manifest, dict):
        raise DataError(f"{folder / 'manifest.json'}: expected a JSON object")
    version = manifest.get("format_version")
    if version != KNOWLEDGE_FORMAT_VERSION:
        raise ModelFileError(
            f"{folder}: knowledge base format version {version!r}; this metaad reads version {KNOWLEDGE_FORMAT_VERSION} "
            "(rebuild it with `metaad knowledge build`)"
        )
    if manifest.get("meta_features_version") != META_FEATURES_VERSION:
        raise ModelFileError(f"{folder}: meta-features of version {manifest.get('meta_features_version')!r}; this metaad "
                             f"computes version {META_FEATURES_VERSION} (rebuild it with `metaad knowledge build`)")
    try:
        tables = [pd.read_parquet(folder / f"{name}.parquet") for name in _TABLES]
        return KnowledgeBase(*tables, manifest=manifest)
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{folder}: unreadable knowledge base ({type(exc).__name__}: {exc})") from None


def task_features(path: str, n_rows: int) -> dict[str, float]:
    """Meta-features of a task: its seed-0 training part, scaled, as the protocol fits detectors on it."""
    from metaad.benchmark.protocol import protocol_split, read_trial_data
    from metaad.meta.features import meta_features

    X, y = read_trial_data(path, n_rows)
    return meta_features(protocol_split(X, y, 0)[0])


def build_knowledge(
    results: str | os.PathLike[str] | pd.DataFrame,
    data: list[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None,
    *,
    zoo_name: str | None = None,
    command: str = "",
    build_seconds: float | None = None,
) -> KnowledgeBase:
    """Build a knowledge base from benchmark results and the datasets they ran on; save it to ``out`` if given.

    Parameters
    ----------
    results : path or DataFrame
        Benchmark results (:func:`metaad.benchmark.store.load_results`), with their ``n_rows``.
    data : list of paths
        Files or folders holding the datasets named in the results (for the tasks' meta-features).
    out : path or None
        The knowledge base folder (written atomically); None builds it in memory only.
    zoo_name, command, build_seconds
        Recorded in the manifest (``command`` should use repository-relative paths).

    Raises
    ------
    DataError
        When the results are empty, lack sizes, or name a dataset not found in ``data``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from metaad.benchmark.datasets import discover_datasets
    >>> from metaad.benchmark.protocol import make_trials
    >>> from metaad.benchmark.zoo import Configuration
    >>> from metaad.engine.run import run_benchmark
    >>> rng = np.random.RandomState(0)
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("a", "b"):
    ...     np.savez(d / f"{name}.npz", X=rng.normal(size=(120, 3)), y=np.r_[np.zeros(108), np.ones(12)])
    >>> trials = make_trials(discover_datasets([d]), [Configuration("ecod", {}), Configuration("hbos", {})], [0], sizes=[60, None])
    >>> kb = build_knowledge(run_benchmark(trials, d / "r.parquet", workers=1), [d], None)
    >>> list(kb.tasks.index), kb.manifest["sizes"]
    (['a@120', 'a@60', 'b@120', 'b@60'], [60, 120])
    """
    from metaad._version import __version__
    from metaad.benchmark.datasets import discover_datasets
    from metaad.benchmark.store import load_results
    from metaad.meta.features import META_FEATURES_VERSION

    frame = results if isinstance(results, pd.DataFrame) else load_results(results)
    if frame.empty:
        raise DataError("the results hold no trial")
    if "n_rows" not in frame or (frame["n_rows"] < 0).any():
        raise DataError("the results do not record the row count of each trial (n_rows); rerun them with this metaad")
    auroc, ap, seconds = performance_matrices(frame)
    empty = [str(t) for t in auroc.index[auroc.isna().all(axis=1)]]
    if empty:  # every trial failed there (e.g. a subsample without anomalies): nothing to learn from
        logger.warning("tasks left out of the knowledge base, every trial failed: %s", ", ".join(empty))
        auroc, ap, seconds = auroc.drop(index=empty), ap.drop(index=empty), seconds.drop(index=empty)
    if auroc.empty:
        raise DataError("every trial failed: no task to build a knowledge base from")
    paths = discover_datasets(data)
    pairs = frame.drop_duplicates(["dataset", "n_rows"])
    tasks = pd.DataFrame({"dataset": pairs["dataset"].astype(str).to_numpy(), "n_rows": pairs["n_rows"].astype(int).to_numpy()},
                         index=pd.Index([task_name(d, n) for d, n in zip(pairs["dataset"], pairs["n_rows"])], name="task"))
    tasks = tasks.loc[auroc.index]
    missing = sorted(set(tasks["dataset"]) - set(paths))
    if missing:
        raise DataError(f"datasets in the results but not in --data: {', '.join(missing)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meta = pd.DataFrame({t: task_features(paths[d], n) for t, d, n in zip(tasks.index, tasks["dataset"], tasks["n_rows"])}).T
    meta.index.name = "task"
    configs = frame.drop_duplicates("config_id").set_index("config_id")[["family", "params_json"]].sort_index()
    configs = configs.loc[list(auroc.columns)]
    manifest = {
        "format_version": KNOWLEDGE_FORMAT_VERSION,
        "zoo": zoo_name,
        "n_tasks": int(auroc.shape[0]),
        "n_datasets": int(tasks["dataset"].nunique()),
        "n_configurations": int(auroc.shape[1]),
        "sizes": sorted(int(n) for n in tasks["n_rows"].unique()),
        "seeds": sorted(int(s) for s in frame["seed"].unique()),
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "metaad_version": __version__,
        "meta_features_version": META_FEATURES_VERSION,
        "build_seconds": build_seconds,
        "trial_status": {str(k): int(v) for k, v in frame["status"].value_counts().items()},
        "families": sorted(configs["family"].unique().tolist()),
        "excluded_tasks": empty,
    }
    kb = KnowledgeBase(tasks, auroc, ap, seconds, meta.loc[tasks.index], configs, manifest)
    if out is not None:
        kb.save(out)
    return kb


def merge_knowledge(base: KnowledgeBase, extra: KnowledgeBase) -> KnowledgeBase:
    """``base`` extended by ``extra``'s tasks and configurations; a task in both takes ``extra``'s results.

    Examples
    --------
    >>> a, b = synthetic_knowledge(n_datasets=4), synthetic_knowledge(n_datasets=6, random_state=1)
    >>> len(merge_knowledge(a, b).tasks)
    6
    """
    keep = [t for t in base.tasks.index if t not in set(extra.tasks.index)]
    configs = pd.concat([base.configurations, extra.configurations])
    configs = configs[~configs.index.duplicated(keep="last")]

    def stack(name: str) -> pd.DataFrame:
        return pd.concat([getattr(base, name).loc[keep], getattr(extra, name)])

    columns = list(configs.index)
    manifest = dict(base.manifest, n_tasks=len(keep) + len(extra.tasks), merged_with=extra.manifest.get("command", "user knowledge"))
    return KnowledgeBase(stack("tasks"), stack("performance").reindex(columns=columns),
                         stack("average_precision").reindex(columns=columns), stack("seconds").reindex(columns=columns),
                         stack("meta_features"), configs, manifest)


# ----------------------------------------------------------------------------------------------- the user's knowledge
def user_knowledge_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The user's knowledge folder: ``path``, else ``$METAAD_KNOWLEDGE_DIR``, else ``~/.metaad/knowledge``."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get("METAAD_KNOWLEDGE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".metaad" / "knowledge"


def load_merged_knowledge(knowledge: str | os.PathLike[str] | KnowledgeBase | None = None, *,
                          user_dir: str | os.PathLike[str] | None = None) -> KnowledgeBase:
    """The knowledge a selector trains on.

    ``knowledge`` given (a folder or an object): that knowledge base alone. Otherwise the shipped one, extended
    by the user's folder (:func:`user_knowledge_dir`) when it holds a knowledge base; a user folder that cannot
    be read is skipped with a warning that names it, never an error.
    """
    if isinstance(knowledge, KnowledgeBase):
        return knowledge
    if knowledge is not None:
        return load_knowledge(knowledge)
    kb = load_knowledge()
    folder = user_knowledge_dir(user_dir)
    if (folder / "manifest.json").exists():
        try:
            kb = merge_knowledge(kb, load_knowledge(folder))
        except (DataError, ModelFileError) as exc:
            warnings.warn(f"your knowledge folder {folder} was skipped, it cannot be used: {exc}", stacklevel=2)
    return kb


def add_knowledge(results: str | os.PathLike[str] | pd.DataFrame, data: list[str | os.PathLike[str]], *,
                  user_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Add benchmark results on the user's own datasets to their knowledge folder, in one atomic step.

    The folder holds a knowledge base of the user's tasks (the same format as the shipped one) and the raw
    results it was built from (``results.parquet``); new results are merged with the old ones (a trial already
    recorded keeps its first result) and the whole folder is replaced at once, so a crash leaves the previous
    folder intact.

    Returns
    -------
    dict
        ``folder``, ``added_tasks`` (new), ``updated_tasks`` (already there), ``n_tasks`` (user tasks) and
        ``n_merged_tasks`` (with the shipped knowledge).

    Raises
    ------
    DataError
        When the results lack a column, hold no successful trial, or name a dataset not found in ``data``.
    """
    from metaad._io import atomic_directory
    from metaad.benchmark.store import RESULT_COLUMNS, TRIAL_KEY, load_results

    frame = results.copy() if isinstance(results, pd.DataFrame) else load_results(results)
    missing = sorted(set(RESULT_COLUMNS) - set(frame.columns) - {"message", "peak_memory_mb", "precision_at_n"})
    if missing:
        raise DataError(f"the results lack column(s) {', '.join(missing)}")
    if not (frame["status"] == "ok").any():
        raise DataError("the results hold no successful trial (status 'ok')")
    folder = user_knowledge_dir(user_dir)
    before: set[str] = set()
    old_results = folder / "results.parquet"
    if old_results.exists():
        try:
            old = pd.read_parquet(old_results)
            before = {task_name(d, n) for d, n in zip(old["dataset"], old["n_rows"])}
            frame = pd.concat([old, frame], ignore_index=True)
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{old_results}: your earlier results cannot be read ({exc}); move the folder away to start afresh") from None
    frame = frame.drop_duplicates(subset=list(TRIAL_KEY), keep="first").reset_index(drop=True)
    kb = build_knowledge(frame, data, None, zoo_name="user", command="metaad knowledge add")
    added = [t for t in kb.tasks.index if t not in before]
    with atomic_directory(folder) as tmp:  # results and knowledge base replaced together, in one step
        frame.to_parquet(tmp / "results.parquet", index=False)
        kb.write_into(tmp)
    merged = load_merged_knowledge(user_dir=folder)
    return {"folder": str(folder), "added_tasks": added, "updated_tasks": [t for t in kb.tasks.index if t in before],
            "n_tasks": len(kb.tasks), "n_merged_tasks": len(merged.tasks)}


# ----------------------------------------------------------------------------------------------- test data
def synthetic_knowledge(n_datasets: int = 30, n_configs_per_family: int = 6, *, sizes: tuple[int, ...] = (500,),
                        noise: float = 0.02, random_state: int = 0) -> KnowledgeBase:
    """A knowledge base with planted structure, for examples and tests (as scikit-learn's ``make_*`` generators).

    Public on purpose: the runnable examples of :mod:`metaad.meta.selector`, :mod:`metaad.meta.lodo` and this
    module train on it, so a reader can run them without a benchmark. Its figures are made up, never a
    measurement: use :func:`load_knowledge` for the shipped knowledge base.

    Tasks whose meta-feature ``f0 > 0`` favour ``knn`` configurations, the others ``iforest``; ``f1`` says
    whether ``lof`` is good; the other features are noise. ``knn`` and ``lof`` cost grows with the rows.

    Parameters
    ----------
    n_datasets : int, default=30
    n_configs_per_family : int, default=6
        Configurations of each of ``iforest``, ``knn``, ``lof`` and ``ecod``.
    sizes : tuple of int, default=(500,)
        One task per dataset and size.
    noise : float, default=0.02
        Standard deviation of the noise added to each AUROC.
    random_state : int, default=0

    Examples
    --------
    >>> kb = synthetic_knowledge(n_datasets=10)
    >>> kb.performance.shape[0], kb.meta_features.shape[1]
    (10, 7)
    """
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    families = ("iforest", "knn", "lof", "ecod")
    configs = [(f"{family}-{k:08d}", family, json.dumps({"size": k + 1}, separators=(",", ":")))
               for family in families for k in range(n_configs_per_family)]
    table = pd.DataFrame(configs, columns=["config_id", "family", "params_json"]).set_index("config_id")
    names = [(f"d{i:02d}", s) for i in range(n_datasets) for s in sizes]
    F = np.repeat(rng.normal(size=(n_datasets, 6)), len(sizes), axis=0)
    log_rows = np.log([s for _, s in names])
    perf = np.empty((len(names), len(configs)))
    seconds = np.empty_like(perf)
    for j, (_, family, params) in enumerate(configs):
        size = json.loads(params)["size"]
        effect = {"iforest": 0.08 * (F[:, 0] < 0) + 0.02, "knn": 0.12 * (F[:, 0] > 0) - 0.01 * size,
                  "lof": 0.1 * (F[:, 1] > 0.5), "ecod": np.full(len(names), 0.05)}[family]
        perf[:, j] = 0.7 + effect + noise * rng.normal(size=len(names))
        seconds[:, j] = np.exp(log_rows * (2.0 if family in ("knn", "lof") else 1.0) - 8.0)
    level = np.repeat(rng.uniform(-0.1, 0.1, size=(n_datasets, 1)), len(sizes), axis=0)
    perf = np.clip(perf + level, 0, 1)
    index = pd.Index([task_name(d, s) for d, s in names], name="task")
    tasks = pd.DataFrame({"dataset": [d for d, _ in names], "n_rows": [s for _, s in names]}, index=index)
    features = pd.DataFrame(F, index=index, columns=[f"f{i}" for i in range(6)])
    features["shape.log_rows"] = log_rows
    frame = pd.DataFrame(perf, index=index, columns=table.index)
    return KnowledgeBase(tasks, frame, (frame - 0.4).clip(0, 1), pd.DataFrame(seconds, index=index, columns=table.index),
                         features, table, {"format_version": KNOWLEDGE_FORMAT_VERSION, "zoo": "synthetic"})


__all__ = ["KNOWLEDGE_FORMAT_VERSION", "KnowledgeBase", "add_knowledge", "build_knowledge", "default_knowledge_path",
           "load_knowledge", "load_merged_knowledge", "merge_knowledge", "performance_matrices", "synthetic_knowledge",
           "task_features", "task_name", "user_knowledge_dir"]
