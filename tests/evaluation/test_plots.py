"""Figures are built without pyplot, carry the right annotations and render to PNG data URIs."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from metaad.evaluation import (
    feature_contributions_figure,
    figure_to_data_uri,
    pr_curve_figure,
    roc_curve_figure,
    score_histogram,
)
from metaad.evaluation.plots import is_heavy_tailed
from metaad.exceptions import DataError, ParameterError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def labelled():
    rng = np.random.default_rng(1)
    y = (rng.random(200) < 0.2).astype(int)
    return y, rng.normal(size=200) + 2 * y


def _legend(fig: Figure) -> list[str]:
    return [text.get_text() for text in fig.axes[0].get_legend().get_texts()]


def test_histogram_with_labels(labelled):
    y, scores = labelled
    fig = score_histogram(scores, threshold=1.0, labels=y)
    assert isinstance(fig, Figure)
    legend = _legend(fig)
    assert legend == ["threshold = 1", f"normal ({(y == 0).sum()})", f"anomaly ({y.sum()})"]
    threshold_line = fig.axes[0].get_lines()[0]
    assert list(threshold_line.get_xdata()) == [1.0, 1.0]


def test_histogram_without_labels(labelled):
    _, scores = labelled
    assert _legend(score_histogram(scores, threshold=0.5)) == ["threshold = 0.5", "all rows (200)"]


def test_histogram_validates():
    with pytest.raises(DataError, match=r"scores\[1\] is nan"):
        score_histogram([0.1, np.nan], threshold=0.5)
    with pytest.raises(DataError, match="labels has 1"):
        score_histogram([0.1, 0.2], threshold=0.5, labels=[0])


def test_roc_and_pr_legends_match_known_values():
    y, scores = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    assert _legend(roc_curve_figure(y, scores))[0] == "AUROC = 0.7500"
    assert _legend(pr_curve_figure(y, scores))[0] == "AP = 0.8333"


@pytest.mark.parametrize("draw", [roc_curve_figure, pr_curve_figure])
def test_curves_need_both_classes(draw):
    with pytest.raises(DataError, match="both classes"):
        draw([0, 0, 0], [0.1, 0.2, 0.3])


def test_feature_contributions_ranked_by_mean_magnitude():
    contributions = pd.DataFrame({"small": [0.1, 0.1], "big": [2.0, 4.0], "negative": [-1.0, -2.0]})
    fig = feature_contributions_figure(contributions, top=2)
    ax = fig.axes[0]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["negative", "big"]
    assert sorted(bar.get_width() for bar in ax.patches) == [-1.5, 3.0]


def test_feature_contributions_validates():
    with pytest.raises(ParameterError, match="top"):
        feature_contributions_figure(pd.DataFrame({"a": [1.0]}), top=0)
    with pytest.raises(DataError, match="non-empty"):
        feature_contributions_figure(pd.DataFrame())


def test_data_uri_is_png(labelled):
    y, scores = labelled
    uri = figure_to_data_uri(roc_curve_figure(y, scores))
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    assert base64.b64decode(uri[len(prefix):]).startswith(PNG_MAGIC)


def _filled_bins(fig: Figure) -> int:
    return sum(patch.get_height() > 0 for patch in fig.axes[0].patches)


def test_heavy_tailed_scores_get_a_log_axis():
    rng = np.random.default_rng(0)
    bulk = rng.gamma(2.0, 0.05, 4000)  # nearly every score near 0.1 ...
    scores = np.r_[bulk, rng.uniform(100, 140, 40)]  # ... and a few near 140, as shuttle's kNN scores
    fig = score_histogram(scores, threshold=1.0)
    assert fig.axes[0].get_xscale() == "log"
    assert "logarithmic" in fig.axes[0].get_title()
    assert _filled_bins(fig) >= 15  # the bulk is spread over many bins, not squeezed into one
    with_zero = score_histogram(np.r_[0.0, -bulk, scores], threshold=1.0)
    assert with_zero.axes[0].get_xscale() == "symlog"
    assert _filled_bins(with_zero) >= 15


def test_ordinary_scores_keep_a_linear_axis(labelled):
    _, scores = labelled
    fig = score_histogram(scores, threshold=1.0)
    assert fig.axes[0].get_xscale() == "linear" and fig.axes[0].get_title() == "Score distribution"
    assert not is_heavy_tailed(np.random.default_rng(1).exponential(size=10_000))
