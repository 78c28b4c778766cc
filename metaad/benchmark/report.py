"""Summaries of benchmark results: average scores and ranks per configuration and family, and an HTML page.

Ranks are computed per dataset over configurations (1 = best, ties averaged) on the mean-over-seeds AUROC;
a configuration that failed on a dataset takes the worst rank there.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import numpy as np
import pandas as pd

from metaad.exceptions import DataError


def summarize(results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Tables of a results frame.

    Returns
    -------
    dict
        ``configurations`` (per config: family, mean AUROC, mean AP, mean rank, datasets ok, failures, sorted by
        mean rank), ``families`` (per family: the same, over its configurations' dataset means, and the best
        configuration's mean rank), ``datasets`` (per dataset: best configuration and its AUROC, mean AUROC),
        ``auroc`` and ``ranks`` (datasets x configurations).

    Examples
    --------
    >>> rows = pd.DataFrame({"dataset": ["a", "a", "b", "b"], "config_id": ["x", "y", "x", "y"], "family": ["f", "g", "f", "g"],
    ...                      "seed": 0, "auroc": [0.9, 0.6, 0.7, 0.8], "average_precision": [0.5, 0.2, 0.3, 0.4],
    ...                      "status": "ok"})
    >>> summarize(rows)["configurations"]["mean_rank"].to_dict()
    {'x': 1.5, 'y': 1.5}
    """
    from metaad.benchmark.store import performance_matrices

    if results.empty:
        raise DataError("the results hold no trial")
    auroc, ap, _ = performance_matrices(results)
    ranks = auroc.rank(axis=1, ascending=False, method="average", na_option="bottom")
    family = results.drop_duplicates("config_id").set_index("config_id")["family"]
    failures = results[results["status"] != "ok"].groupby("config_id").size()
    configs = pd.DataFrame({
        "family": family.reindex(auroc.columns),
        "mean_auroc": auroc.mean(axis=0), "mean_ap": ap.mean(axis=0), "mean_rank": ranks.mean(axis=0),
        "datasets_ok": auroc.notna().sum(axis=0), "failed_trials": failures.reindex(auroc.columns).fillna(0).astype(int),
    }).sort_values(["mean_rank", "mean_auroc"], ascending=[True, False])
    configs.index.name = "config_id"
    families = configs.groupby("family").agg(
        n_configurations=("mean_rank", "size"), mean_auroc=("mean_auroc", "mean"), mean_ap=("mean_ap", "mean"),
        mean_rank=("mean_rank", "mean"), best_rank=("mean_rank", "min"), best_auroc=("mean_auroc", "max"),
    ).sort_values("mean_rank")
    has_any = auroc.notna().any(axis=1)
    best = auroc[has_any].idxmax(axis=1).reindex(auroc.index)  # None where every trial failed
    datasets = pd.DataFrame({"best_config": best, "best_auroc": auroc.max(axis=1), "mean_auroc": auroc.mean(axis=1),
                             "median_auroc": auroc.median(axis=1), "configurations_ok": auroc.notna().sum(axis=1)})
    return {"configurations": configs, "families": families, "datasets": datasets, "auroc": auroc, "ranks": ranks}


def rank_figure(summary: dict[str, pd.DataFrame], top: int = 25):  # noqa: ANN201  (matplotlib Figure)
    """A critical-difference style plot: the ``top`` configurations' mean ranks with the Nemenyi CD (alpha 0.05)."""
    from matplotlib.figure import Figure

    configs = summary["configurations"].head(top)
    n_datasets, n_configs = summary["ranks"].shape
    # Nemenyi critical difference, q_alpha from the studentized range for k -> large approximated by 3.0+
    q_alpha = 2.569 + 0.5 * np.log(max(n_configs, 2)) if n_configs > 10 else 2.9
    cd = q_alpha * np.sqrt(n_configs * (n_configs + 1) / (6.0 * max(n_datasets, 1)))
    fig = Figure(figsize=(8, 0.28 * len(configs) + 1.5))
    ax = fig.add_subplot()
    y = np.arange(len(configs))[::-1]
    ax.scatter(configs["mean_rank"], y, color="#1f77b4", zorder=3)
    if len(configs):
        start = float(configs["mean_rank"].iloc[0])
        ax.axvspan(start, start + cd, color="#ffdd99", alpha=0.5, label=f"critical difference {cd:.1f} (Nemenyi, approx.)")
    ax.set_yticks(y, [f"{i} ({f})" for i, f in zip(configs.index, configs["family"])], fontsize=7)
    ax.set_xlabel(f"mean rank over {n_datasets} datasets (of {n_configs} configurations; lower is better)")
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    return fig


def heatmap_figure(summary: dict[str, pd.DataFrame], top: int = 30):  # noqa: ANN201
    """AUROC heat map: datasets x the ``top`` configurations by mean rank."""
    from matplotlib.figure import Figure

    columns = summary["configurations"].index[:top]
    matrix = summary["auroc"][columns]
    fig = Figure(figsize=(max(6, 0.25 * len(columns) + 3), max(4, 0.22 * len(matrix) + 2)))
    ax = fig.add_subplot()
    image = ax.imshow(matrix.to_numpy(dtype=float), aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(columns)), list(columns), rotation=90, fontsize=6)
    ax.set_yticks(range(len(matrix)), list(matrix.index), fontsize=6)
    fig.colorbar(image, ax=ax, label="test AUROC (mean over seeds)")
    fig.tight_layout()
    return fig


def write_benchmark_report(results: pd.DataFrame, out_dir: str | os.PathLike[str], title: str = "metaad benchmark") -> Path:
    """Write ``benchmark_report.html`` (one self-contained page) and the summary tables as CSV into ``out_dir``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> rows = pd.DataFrame({"dataset": ["a", "a"], "config_id": ["x", "y"], "family": ["f", "g"], "seed": 0,
    ...                      "auroc": [0.9, 0.6], "average_precision": [0.5, 0.2], "status": "ok"})
    >>> write_benchmark_report(rows, pathlib.Path(tempfile.mkdtemp())).name
    'benchmark_report.html'
    """
    from metaad._version import __version__
    from metaad._io import atomic_write_text
    from metaad.evaluation._html import STYLE, escape, image, section, table
    from metaad.evaluation.plots import figure_to_data_uri

    summary = summarize(results)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("configurations", "families", "datasets"):
        atomic_write_text(out / f"{name}.csv", summary[name].to_csv())

    def frame_table(frame: pd.DataFrame, limit: int | None = None) -> str:
        frame = frame if limit is None else frame.head(limit)
        rows = [[idx, *[v.item() if hasattr(v, "item") else v for v in row]] for idx, row in zip(frame.index, frame.to_numpy())]
        return table([frame.index.name or "", *frame.columns], rows)

    status = results["status"].value_counts().to_dict()
    intro = (f"<p>{results['dataset'].nunique()} datasets, {results['config_id'].nunique()} configurations, "
             f"seeds {escape(sorted(results['seed'].unique().tolist()))}; trials: {escape(status)}. "
             "Ranks per dataset on mean AUROC (1 = best; failures rank last).</p>")
    body = [
        f"<header><h1>{escape(title)}</h1></header>", intro,
        section("Families", frame_table(summary["families"])),
        section("Configurations (top 50 by mean rank)", frame_table(summary["configurations"], 50)),
        section("Mean rank", image(figure_to_data_uri(rank_figure(summary)), "critical-difference rank plot")),
        section("AUROC heat map", image(figure_to_data_uri(heatmap_figure(summary)), "AUROC heat map")),
        section("Per dataset", frame_table(summary["datasets"])),
    ]
    generated = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    page = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{escape(title)}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n" + "\n".join(body)
            + f"\n<footer>Generated by metaad {escape(__version__)} on {generated}.</footer>\n</body>\n</html>\n")
    return atomic_write_text(out / "benchmark_report.html", page)
