"""The job behind ``metaad tune``: search on a table, then write what ``metaad detect`` writes, plus the search.

The table is preprocessed as ``metaad detect`` does (:class:`metaad.data.preprocessing.TabularPreprocessor`), the
search runs on it (:func:`metaad.search.loop.run_search`), and :func:`metaad.workflow.detect` fits the best
configuration and writes ``scores.csv``, ``metrics.json``, ``report.html`` and ``model/``. The search adds
``tuning.html`` and ``search/trials.jsonl`` (the trial log, which a second run of the same command resumes from).

While the search runs, its log lives in ``<out>/search/`` next to the marker ``metaad detect`` leaves, so a killed
run resumes, and a folder metaad did not write is refused before anything runs.
"""

from __future__ import annotations

import json
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metaad._io import atomic_write_text
from metaad.data.readers import Table
from metaad.search.guard import DEFAULT_MARGIN, guard, incumbent_members
from metaad.search.loop import LOG_NAME, SearchResult, run_search
from metaad.search.report import tuning_html

#: The search folder inside the output folder.
SEARCH_DIR = "search"


@dataclass
class TuneResult:
    """Where the outputs went, the search, and the headline numbers of the refitted best configuration."""

    out_dir: Path
    search: SearchResult
    metrics: dict[str, Any]
    files: dict[str, Path]


def tune_table(
    table: Table,
    *,
    known_anomalies_col: str | None = None,
    out_dir: str | Path | None = None,
    trials: int = 50,
    time_limit: float | None = None,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    seed: int = 0,
    contamination: float | None = None,
    missing: str = "impute",
    drop_cols: tuple[str, ...] = (),
    id_col: str | None = None,
    force: bool = False,
    progress: Any = None,
    **search_options: Any,
) -> TuneResult:
    """Search the best configuration for ``table`` and write the outputs of ``metaad detect`` for it, plus the search.

    ``known_anomalies_col`` (1 = known anomaly, 0 or empty = unknown) changes the reward only; it is not a
    feature and the chosen detector is fitted without labels. The table's label column (``--label-col``) is never
    seen by the search: it only evaluates the refitted detector, as in ``metaad detect``.
    """
    from metaad.workflow import OUTPUT_MARKER, _check_output_folder, _refuse_foreign_folder, _split_known_anomalies, detect
    from metaad.data.preprocessing import TabularPreprocessor

    target = Path(out_dir) if out_dir is not None else Path("metaad-out") / table.name
    _check_output_folder(target, None if force else _refuse_foreign_folder)
    frame, known = _split_known_anomalies(
        table.frame, known_anomalies_col, types.SimpleNamespace(_uses_labels=True, registry_name="tune"), table.source)
    drop = tuple(drop_cols)
    X = TabularPreprocessor(missing=missing, drop_columns=drop, id_column=id_col).fit_transform(frame)
    log_dir = target / SEARCH_DIR
    marker = target / OUTPUT_MARKER
    if not marker.exists():  # the folder is ours from now on: a later run (or the final write) may replace it
        target.mkdir(parents=True, exist_ok=True)
        atomic_write_text(marker, json.dumps({"written_by": "metaad", "command": "tune", "input": table.source}, indent=2) + "\n")
    guard_margin = search_options.pop("guard_margin", DEFAULT_MARGIN)
    result = run_search(X, known, trials=trials, time_limit=time_limit, engine=engine, workers=workers,
                        ray_address=ray_address, log_dir=log_dir, random_state=seed, progress=progress, **search_options)
    best, detector_name, params = result.best, result.best["family"], _params(result.best["params"])
    guard_info = None
    if guard_margin is not None and not result.settings["labelled"]:
        # auto's choice is the incumbent; a configuration of the search must beat it on a fresh draw (guard.py)
        from metaad.meta.auto import AutoDetector

        auto_params = {k: search_options[k] for k in ("knowledge", "families", "max_fit_rows") if search_options.get(k) is not None}
        auto_params["knowledge"] = str(auto_params["knowledge"]) if "knowledge" in auto_params else None
        auto = AutoDetector(random_state=seed, **auto_params).fit(X)
        decision = guard(result, X, incumbent_members(auto), margin=float(guard_margin), engine=engine, workers=workers,
                         ray_address=ray_address, trial_time_limit=search_options.get("trial_time_limit", 120.0))
        guard_info = decision.as_dict()
        if decision.choice == "challenger":
            best, detector_name, params = decision.best, decision.best["family"], _params(decision.best["params"])
        else:
            best = {"config_id": "auto:" + "+".join(auto.ensemble_), "family": "auto", "params": {"ensemble": list(auto.ensemble_)},
                    "reward": decision.incumbent["reward"], "trial": -1}
            detector_name, params = "auto", {k: v for k, v in auto_params.items() if v is not None}
    log_text = (log_dir / LOG_NAME).read_text()
    keep = (*drop, known_anomalies_col) if known_anomalies_col is not None else drop
    detected = detect(
        table, detector=detector_name, params=params,
        contamination=contamination, seed=seed, out_dir=target, missing=missing, force=True, drop_cols=keep, id_col=id_col)
    # detect replaced the folder as a whole: put the search back beside its outputs
    (target / SEARCH_DIR).mkdir(exist_ok=True)
    atomic_write_text(target / SEARCH_DIR / LOG_NAME, log_text)
    result.trials.to_csv(target / SEARCH_DIR / "trials.csv", index=False)
    page = tuning_html(result.trials, reward_definition=result.reward_definition, settings=result.settings,
                       title=f"metaad tune: {table.name}", best=best, stopped_by=result.stopped_by)
    atomic_write_text(target / "tuning.html", page)
    metrics = dict(detected.metrics) | {"tuning": {"best": best, "n_trials": int((result.trials["status"] != "cached").sum()),
                                                   "stopped_by": result.stopped_by, "reward_definition": result.reward_definition,
                                                   "guard": guard_info}}
    atomic_write_text(target / "metrics.json", json.dumps(metrics, indent=2, default=str))
    files = dict(detected.files) | {"tuning.html": target / "tuning.html", "search": target / SEARCH_DIR}
    return TuneResult(target, result, metrics, files)


def _params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


__all__ = ["SEARCH_DIR", "TuneResult", "tune_table"]
