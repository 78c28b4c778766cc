"""Tables for benchmarks/results/deep.md from the CSVs the other bench_deep_*.py scripts write.

Usage: .venv/bin/python benchmarks/bench_deep_report.py  (prints markdown tables to stdout)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def markdown(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    speed = RESULTS / "deep_speed.csv"
    if speed.exists():
        print("### Speed vs PyOD\n\n" + markdown(pd.read_csv(speed).astype(object).fillna("")) + "\n")
    mnist = RESULTS / "deep_mnist.csv"
    if mnist.exists():
        frame = pd.read_csv(mnist)
        table = frame.pivot_table(index="digit", columns="detector", values="auroc")
        if "auroc_critic_score" in frame:
            table["wgan (score=critic)"] = frame[frame.detector == "wgan"].set_index("digit")["auroc_critic_score"]
        table = table.round(4)
        table.loc["mean"] = table.mean().round(4)
        fit = frame.groupby("detector")["fit_s"].sum().round(0)
        print("### MNIST one-class\n\n" + markdown(table.reset_index()) + "\n\nTotal fit seconds (all digits): " + ", ".join(f"{k} {v:.0f}s" for k, v in fit.items()) + "\n")
    robust = RESULTS / "deep_robustness.csv"
    if robust.exists():
        print("### Robustness\n\n" + markdown(pd.read_csv(robust)) + "\n")


if __name__ == "__main__":
    main()
