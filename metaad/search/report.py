"""``tuning.html``: what the search did, trial by trial, and how its reward was defined.

Examples
--------
>>> import pandas as pd
>>> trials = pd.DataFrame({"trial": [0, 1, 2], "batch": [0, 0, 1], "config_id": ["a", "b", "c"],
...                        "family": ["knn", "ecod", "knn"], "params_json": ["{}"] * 3, "reward": [0.7, 0.8, 0.75],
...                        "evidence": [0.7, 0.8, 0.75], "prior": [None] * 3, "seconds": [0.1] * 3,
...                        "entropy": [2.0, 2.0, 1.5], "status": ["ok"] * 3, "message": [""] * 3})
>>> page = tuning_html(trials, reward_definition="reward = evidence", settings={"method": "reinforce"})
>>> "best so far" in page and "Best configurations" in page and "reward = evidence" in page
True
>>> best_so_far(trials).tolist()
[0.7, 0.8, 0.8]
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

#: Rows of the best-configurations table.
TOP_ROWS = 10


def best_so_far(trials: pd.DataFrame) -> pd.Series:
    """The best reward after each trial (trials in order, repeats left out)."""
    run = trials[trials["status"] != "cached"].sort_values("trial")
    return run["reward"].astype(float).cummax().reset_index(drop=True)


def _figures(trials: pd.DataFrame) -> str:
    from matplotlib.figure import Figure

    from metaad.evaluation._html import image
    from metaad.evaluation.plots import figure_to_data_uri

    run = trials[trials["status"] != "cached"].sort_values("trial")
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.subplots()
    ok = run["status"] == "ok"
    ax.scatter(run["trial"][ok], run["reward"][ok], s=14, label="trial reward")
    if (~ok).any():
        ax.scatter(run["trial"][~ok], run["reward"][~ok], s=18, marker="x", color="tab:red", label="failed / timed out")
    ax.step(run["trial"], run["reward"].astype(float).cummax(), where="post", color="black", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("reward")
    ax.legend(loc="lower right", fontsize=8)
    reward = figure_to_data_uri(fig)
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.subplots()
    per_batch = trials.groupby("batch")["entropy"].first()
    ax.plot(per_batch.index, per_batch.to_numpy(), marker="o")
    ax.set_xlabel("batch (policy update)")
    ax.set_ylabel("policy entropy (nats)")
    entropy = figure_to_data_uri(fig)
    return (f'<div class="figures">{image(reward, "reward per trial and best so far")}'
            f'{image(entropy, "policy entropy per batch")}</div>')


def tuning_html(trials: pd.DataFrame, *, reward_definition: str, settings: dict[str, Any], title: str = "metaad tune",
                best: dict[str, Any] | None = None, stopped_by: str | None = None) -> str:
    """The page: reward per trial and best so far, policy entropy, the best configurations, the reward's definition."""
    from metaad._version import __version__
    from metaad.evaluation._html import STYLE, escape, section, table

    run = trials[trials["status"] != "cached"]
    ok = run[run["status"] == "ok"].sort_values(["reward", "trial"], ascending=[False, True]).drop_duplicates("config_id")
    top = [[int(r.trial), r.config_id, r.family, json.dumps(json.loads(r.params_json), sort_keys=True),
            round(float(r.reward), 4), None if pd.isna(r.evidence) else round(float(r.evidence), 4),
            None if pd.isna(r.prior) else round(float(r.prior), 4), round(float(r.seconds), 2)]
           for r in ok.head(TOP_ROWS).itertuples()]
    failed = run[run["status"] != "ok"]
    failed_rows = [[int(r.trial), r.config_id, r.status, r.message] for r in failed.itertuples()]
    counts = run["status"].value_counts().to_dict()
    summary = (f"<p>{len(run)} trials ({', '.join(f'{v} {k}' for k, v in counts.items())}), "
               f"{int((trials['status'] == 'cached').sum())} repeated proposals reused their reward; "
               f"{escape(stopped_by or '')} budget reached. Time in trials: {run['seconds'].astype(float).sum():.1f} s.</p>")
    if best is not None:
        summary += (f"<p>Best: <b>{escape(best['config_id'])}</b> ({escape(best['family'])}, "
                    f"{escape(json.dumps(best['params'], sort_keys=True))}), reward {best['reward']:.4f} at trial {best['trial']}.</p>")
    parts = [
        section("Search", summary + _figures(trials)),
        section("Best configurations", table(["trial", "configuration", "family", "parameters", "reward", "evidence",
                                              "prior", "seconds"], top)),
        section("How the reward was defined", f"<p>{escape(reward_definition)}</p>"),
        section("Settings", table(["setting", "value"], [[k, json.dumps(v) if not isinstance(v, str) else v]
                                                          for k, v in settings.items()])),
    ]
    if failed_rows:
        parts.insert(2, section("Failed trials", table(["trial", "configuration", "status", "reason"], failed_rows)))
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{escape(title)}</title><style>{STYLE}</style>"
            f"</head><body><h1>{escape(title)}</h1>\n" + "\n".join(parts) +
            f"<footer>metaad {escape(__version__)}</footer></body></html>\n")


def reward_summary(trials: pd.DataFrame) -> dict[str, float]:
    """Count, best and mean reward of the trials run (repeats left out)."""
    run = trials[trials["status"] != "cached"]
    return {"n_trials": int(len(run)), "best_reward": float(run["reward"].max()),
            "mean_reward": float(np.mean(run["reward"].astype(float)))}


__all__ = ["TOP_ROWS", "best_so_far", "reward_summary", "tuning_html"]
