"""Leave-one-dataset-out evaluation of a selector, and the baselines it is compared with.

For each dataset of the knowledge base, a fresh selector is trained on every *other* dataset (all their tasks,
at every size; a dataset's duplicates, :data:`DUPLICATE_GROUPS`, are left out with it) and ranks the configurations
for each of the held-out dataset's tasks from the task's meta-features; the score of that choice is the task's
own recorded test AUROC and average precision for the configuration. Baselines chosen the same way, without the
held-out dataset: the global best (best mean AUROC over the training tasks), Isolation Forest at its defaults, a
random configuration (its expected score: the mean over configurations) and the per-task oracle (the best
configuration in hindsight, an upper bound).

This measures the *selector* on recorded results; ``benchmarks/bench_selection.py`` measures the shipped
``auto`` end to end (evidence, hedge, fitting) at the datasets' real sizes.

Examples
--------
>>> from metaad.meta.knowledge import synthetic_knowledge
>>> from metaad.meta.selector import Selector
>>> kb = synthetic_knowledge(n_datasets=20, random_state=1)
>>> table = leave_one_dataset_out(kb, lambda: Selector(model="knn", cost_weight=0.0))
>>> summary = summarize_lodo(table)
>>> bool(summary.loc["selected", "auroc"] > summary.loc["random", "auroc"])
True
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from metaad.exceptions import ParameterError
from metaad.meta.knowledge import KnowledgeBase
from metaad.meta.selector import Selector

#: Datasets of the shared benchmark folder drawn from the same source data (ODDS vs ADBench files of one
#: dataset; two anomaly definitions on one table): held out together so that none informs the other.
DUPLICATE_GROUPS: dict[str, str] = {
    "odds_lympho": "Lymphography", "odds_glass": "glass", "odds_ionosphere": "Ionosphere",
    "odds_wbc": "WDBC", "odds_arrhythmia": "legacy_Arrhythmia", "breastw": "WBC",
    "satimage-2": "satellite", "annthyroid": "thyroid",
}


def default_config_id(configurations: pd.DataFrame, family: str) -> str | None:
    """The configuration of ``family`` whose parameters all equal the registered detector's defaults.

    Examples
    --------
    >>> table = pd.DataFrame({"family": ["iforest", "iforest"],
    ...                       "params_json": ['{"n_estimators":50}', '{"n_estimators":100}']}, index=["a", "b"])
    >>> default_config_id(table, "iforest")
    'b'
    """
    from metaad.detectors.registry import get_detector_info

    try:
        defaults = get_detector_info(family).parameters
    except ParameterError:  # not a registered family
        return None
    rows = configurations[configurations["family"] == family]
    for config_id, row in rows.iterrows():
        params = json.loads(row["params_json"])
        if all(_same(defaults.get(k, object()), v) for k, v in params.items()):
            return str(config_id)
    return None


def _same(default: Any, value: Any) -> bool:
    if isinstance(default, tuple):
        default = list(default)
    return default == value


def held_out_group(kb: KnowledgeBase, dataset: str, groups: dict[str, str] | None = None) -> list[str]:
    """``dataset`` and every dataset of its duplicate group (default :data:`DUPLICATE_GROUPS`)."""
    groups = DUPLICATE_GROUPS if groups is None else groups
    group = groups.get(dataset, dataset)
    return [d for d in kb.datasets if groups.get(d, d) == group]


def leave_one_dataset_out(
    kb: KnowledgeBase,
    make_selector: Callable[[], Selector],
    *,
    datasets: Sequence[str] | None = None,
    baseline_family: str = "iforest",
    groups: dict[str, str] | None = None,
) -> pd.DataFrame:
    """One row per held-out task: the selected configuration, the baselines and their test scores.

    Parameters
    ----------
    kb : KnowledgeBase
        The whole knowledge base.
    make_selector : callable
        Returns a new, unfitted selector; it is fitted on the knowledge without the held-out dataset's group.
    datasets : sequence of str, optional
        Hold out only these (default: every dataset).
    baseline_family : str, default "iforest"
        The family whose default configuration is the "defaults" baseline.
    groups : dict of str to str, optional
        Dataset -> group name (default :data:`DUPLICATE_GROUPS`; ``{}``: each dataset alone).

    Returns
    -------
    pandas.DataFrame
        Columns ``task``, ``dataset``, ``n_rows``, ``selected``, ``global_best`` and ``defaults`` (config ids), and
        for each of ``selected``, ``global_best``, ``defaults``, ``random``, ``oracle``: ``<name>_auroc`` and ``<name>_ap``.
    """
    rows = []
    defaults = default_config_id(kb.configurations, baseline_family)
    for held_out in datasets or kb.datasets:
        train = kb.drop_datasets(held_out_group(kb, held_out, groups))
        selector = make_selector().fit(train)
        for task in kb.tasks.index[kb.tasks["dataset"] == held_out]:
            ranking = selector.rank(kb.meta_features.loc[task].to_dict())
            row = score_choices(kb, task, ranking["config_id"].iloc[0], train, defaults)
            rows.append({"task": task, "dataset": held_out, "n_rows": int(kb.tasks.loc[task, "n_rows"]), **row})
    return pd.DataFrame(rows)


def score_choices(kb: KnowledgeBase, task: str, selected: str, train: KnowledgeBase,
                  defaults: str | None) -> dict[str, Any]:
    """Test scores on ``task`` of ``selected`` and of the baselines computed from ``train``."""
    perf = kb.performance.loc[task]
    ap = kb.average_precision.loc[task]
    filled = train.performance.apply(lambda row: row.fillna(row.mean()), axis=1)  # failed = average, as in value()
    global_best = str(filled.mean(axis=0).idxmax())

    def value(series: pd.Series, config_id: str | None) -> float:
        if config_id is None or config_id not in series.index or not np.isfinite(series[config_id]):
            return float(series.mean())  # a failed trial scores like a random choice
        return float(series[config_id])

    oracle = str(perf.idxmax())
    row: dict[str, Any] = {"selected": selected, "global_best": global_best, "defaults": defaults}
    for name, config_id in (("selected", selected), ("global_best", global_best), ("defaults", defaults),
                            ("oracle", oracle)):
        row[f"{name}_auroc"] = value(perf, config_id)
        row[f"{name}_ap"] = value(ap, config_id)
    row["random_auroc"] = float(perf.mean())
    row["random_ap"] = float(ap.mean())
    row["oracle_ap"] = float(ap.max())  # the oracle for AP is the best configuration by AP
    return row


def summarize_lodo(table: pd.DataFrame, methods: Sequence[str] = ("selected", "global_best", "defaults", "random", "oracle")) -> pd.DataFrame:
    """Mean AUROC and AP per method, the share of the global-best-to-oracle gap closed, the worst shortfall.

    Returns
    -------
    pandas.DataFrame
        Indexed by method; columns ``auroc``, ``ap``, ``gap_closed_auroc``, ``gap_closed_ap`` (fraction of
        ``oracle - global_best`` recovered on the mean) and ``worst_vs_global_best`` (the most negative
        per-task AUROC difference to the global best).
    """
    out = {}
    gb_auc, or_auc = table["global_best_auroc"].mean(), table["oracle_auroc"].mean()
    gb_ap, or_ap = table["global_best_ap"].mean(), table["oracle_ap"].mean()
    for m in methods:
        auc, ap = table[f"{m}_auroc"].mean(), table[f"{m}_ap"].mean()
        out[m] = {
            "auroc": auc,
            "ap": ap,
            "gap_closed_auroc": (auc - gb_auc) / (or_auc - gb_auc) if or_auc > gb_auc else np.nan,
            "gap_closed_ap": (ap - gb_ap) / (or_ap - gb_ap) if or_ap > gb_ap else np.nan,
            "worst_vs_global_best": float((table[f"{m}_auroc"] - table["global_best_auroc"]).min()),
        }
    return pd.DataFrame(out).T


def held_out_seed_oracle(results: pd.DataFrame, metric: str = "auroc") -> pd.DataFrame:
    """How much of the per-dataset oracle is test-split noise: oracles chosen on some seeds, scored on another.

    The *hindsight* oracle takes, per dataset, the best configuration by its mean over the seeds and scores it
    on the same seeds, so it profits from the luck of those test splits. The *held-out-seed* oracle, for each
    seed ``s``, takes the configuration best on the mean of the **other** seeds and scores it on seed ``s``
    (then averages over ``s``): a selector that knew every other split's result of this very dataset could do
    that well. The *single-seed* oracle is the mean over seeds of the best configuration of each seed alone
    (what a one-seed knowledge base reports as its oracle).

    Parameters
    ----------
    results : pandas.DataFrame
        Benchmark rows with ``dataset``, ``config_id``, ``seed``, ``status`` and ``metric``; at least two seeds.
    metric : str, default "auroc"
        The column to optimize and report (``"auroc"`` or ``"average_precision"``).

    Returns
    -------
    pandas.DataFrame
        Indexed by dataset: ``hindsight``, ``held_out_seed`` and ``single_seed`` oracle values.

    Examples
    --------
    Two configurations that are equally good, with noise that favours a different one on each seed:

    >>> rows = pd.DataFrame({"dataset": ["d"] * 4, "config_id": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1],
    ...                      "auroc": [0.9, 0.7, 0.7, 0.9], "status": ["ok"] * 4})
    >>> held_out_seed_oracle(rows).round(2).to_dict("records")
    [{'hindsight': 0.8, 'held_out_seed': 0.7, 'single_seed': 0.9}]
    """
    ok = results[results["status"] == "ok"]
    cube = ok.pivot_table(index=["dataset", "seed"], columns="config_id", values=metric, aggfunc="mean")
    seeds = sorted(cube.index.get_level_values("seed").unique())
    if len(seeds) < 2:
        raise ParameterError(f"held_out_seed_oracle needs results of at least 2 seeds, got {seeds}")
    rows = {}
    for dataset, block in cube.groupby(level="dataset"):
        block = block.droplevel("dataset")
        mean = block.mean(axis=0)
        held_out = []
        for seed in block.index:
            others = block.drop(index=seed).mean(axis=0)
            chosen = others.idxmax()
            value = block.loc[seed, chosen]
            held_out.append(value if np.isfinite(value) else block.loc[seed].mean())
        rows[dataset] = {"hindsight": float(mean.max()), "held_out_seed": float(np.mean(held_out)),
                         "single_seed": float(block.max(axis=1).mean())}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "dataset"
    return frame


__all__ = ["DUPLICATE_GROUPS", "default_config_id", "held_out_group", "held_out_seed_oracle", "leave_one_dataset_out",
           "score_choices", "summarize_lodo"]
