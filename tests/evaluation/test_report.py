"""The HTML report is self-contained, escaped, and shows the right sections."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from metaad.evaluation import evaluate, write_report
from metaad.exceptions import DataError, ParameterError

EVIL = "<b>x</b>"


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(2)
    n_rows = 60
    frame = pd.DataFrame(
        {
            "temperature": rng.normal(20, 1, n_rows).round(3),
            "pressure": rng.normal(1000, 5, n_rows).round(2),
            EVIL: rng.integers(0, 10, n_rows),
            "site": ["north"] * n_rows,
        },
        index=pd.RangeIndex(100, 100 + n_rows, name="row_id"),
    )
    labels = np.zeros(n_rows, dtype=int)
    labels[[3, 17, 42]] = 1
    frame.loc[frame.index[[3, 17, 42]], "temperature"] = [91.25, 87.5, 78.125]
    scores = np.abs(frame["temperature"].to_numpy() - 20) / 10 + rng.random(n_rows) * 0.01
    explanation = pd.DataFrame(
        {
            "temperature": scores,
            "pressure": np.full(n_rows, 0.01),
            EVIL: np.full(n_rows, 0.02),
            "site": np.zeros(n_rows),
        },
        index=frame.index,
    )
    return frame, labels, scores, explanation


@pytest.fixture(scope="module")
def full_report(data, tmp_path_factory):
    frame, labels, scores, explanation = data
    metrics = evaluate(labels, scores, threshold=3.0)
    path = write_report(
        tmp_path_factory.mktemp("report") / "sub" / "report.html",
        scores=scores,
        threshold=3.0,
        frame=frame,
        labels=labels,
        metrics=metrics,
        title="Sensor <run>",
        detector_name="iforest",
        params={"n_estimators": 100, "note": "<i>hi</i>"},
        explanation=explanation,
        sections=[("Model selection", "<p>chosen by <em>kNN</em></p>")],
        top=5,
    )
    return path, path.read_text(encoding="utf-8"), metrics


@pytest.fixture(scope="module")
def unlabelled_report(data, tmp_path_factory):
    frame, _, scores, _ = data
    path = write_report(
        tmp_path_factory.mktemp("report") / "plain.html",
        scores=scores,
        threshold=3.0,
        frame=frame,
        title="Plain",
        detector_name="lof",
        params={},
    )
    return path.read_text(encoding="utf-8")


def test_file_written_with_inline_images(full_report):
    path, text, _ = full_report
    assert path.exists() and path.name == "report.html"
    assert text.startswith("<!DOCTYPE html>")
    images = re.findall(r'<img src="([^"]*)"', text)
    assert len(images) == 4  # histogram, ROC, PR, contributions
    assert all(src.startswith("data:image/png;base64,") for src in images)


def test_self_contained(full_report, unlabelled_report):
    for text in (full_report[1], unlabelled_report):
        assert "http://" not in text
        assert "https://" not in text
        assert "<script" not in text.lower()
        assert "<link" not in text.lower()


def test_user_strings_escaped(full_report):
    _, text, _ = full_report
    assert EVIL not in text
    assert "&lt;b&gt;x&lt;/b&gt;" in text
    assert "Sensor &lt;run&gt;" in text
    assert "&lt;i&gt;hi&lt;/i&gt;" in text
    assert "<i>hi</i>" not in text


def test_header_and_summary(full_report):
    _, text, metrics = full_report
    assert "<title>Sensor &lt;run&gt;</title>" in text
    assert "iforest" in text and "n_estimators" in text
    assert "<td>60</td>" in text  # rows
    assert "<td>3</td>" in text  # flagged rows (the three planted anomalies) and true anomalies
    for key in ("auroc", "average_precision", "precision", "recall", "f1", "precision_at_n"):
        assert f'<td class="text">{key}</td>' in text
    assert f"<td>{metrics['auroc']:.4g}</td>" in text


def test_top_rows_show_original_values_in_score_order(full_report):
    _, text, _ = full_report
    top_section = text[text.index("Top 5 most anomalous rows") : text.index("Classification report")]
    assert [text_value in top_section for text_value in ("91.25", "87.5", "78.12")] == [True, True, True]
    assert top_section.index("91.25") < top_section.index("87.5") < top_section.index("78.12")
    assert '<td class="text">north</td>' in top_section
    assert "<th>row_id</th>" not in top_section  # the index column is called "row"
    assert "<td>103</td>" in top_section  # original index label of the first planted anomaly


def test_classification_report_and_why_sections(full_report):
    _, text, _ = full_report
    assert "<h2>Classification report</h2>" in text
    assert '<td class="text">weighted avg</td>' in text
    why = text[text.index("<h2>Why these rows</h2>") :]
    assert '<td class="text">temperature</td>' in why
    assert "Mean contribution over the 3 flagged rows" in why


def test_extra_sections_appended_last(full_report):
    _, text, _ = full_report
    assert "<h2>Model selection</h2>" in text
    assert "<p>chosen by <em>kNN</em></p>" in text  # body is trusted HTML
    assert text.index("<h2>Model selection</h2>") > text.index("<h2>Why these rows</h2>")


def test_without_labels_no_curves(unlabelled_report):
    text = unlabelled_report
    assert "ROC curve" not in text
    assert "precision-recall" not in text
    assert "Classification report" not in text
    assert "Why these rows" not in text
    assert "<th>label</th>" not in text
    assert len(re.findall(r'<img src="data:image/png;base64,', text)) == 1
    assert "91.25" in text


def test_single_class_labels_note(data, tmp_path):
    frame, _, scores, _ = data
    path = write_report(
        tmp_path / "r.html", scores=scores, threshold=3.0, frame=frame, labels=np.zeros(len(frame), int),
        title="t", detector_name="d", params={},
    )
    text = path.read_text(encoding="utf-8")
    assert "single class" in text and "ROC curve" not in text


def test_hidden_columns_are_counted(tmp_path):
    frame = pd.DataFrame(np.arange(2 * 35).reshape(2, 35), columns=[f"c{i}" for i in range(35)])
    path = write_report(tmp_path / "wide.html", scores=[0.1, 0.9], threshold=0.5, frame=frame,
                        title="wide", detector_name="d", params={})
    text = path.read_text(encoding="utf-8")
    assert "<th>c29</th>" in text and "<th>c30</th>" not in text
    assert "5 more columns hidden" in text


def test_validation(data, tmp_path):
    frame, labels, scores, _ = data
    common = {"frame": frame, "title": "t", "detector_name": "d", "params": {}}
    with pytest.raises(DataError, match="frame has 60"):
        write_report(tmp_path / "a.html", scores=scores[:10], threshold=1.0, **common)
    with pytest.raises(DataError, match=r"scores\[0\] is nan"):
        write_report(tmp_path / "a.html", scores=np.r_[np.nan, scores[1:]], threshold=1.0, **common)
    with pytest.raises(DataError, match=r"labels\[0\] is 7"):
        write_report(tmp_path / "a.html", scores=scores, threshold=1.0, labels=np.r_[7, labels[1:]], **common)
    with pytest.raises(ParameterError, match="top"):
        write_report(tmp_path / "a.html", scores=scores, threshold=1.0, top=0, **common)
    with pytest.raises(ParameterError, match="threshold"):
        write_report(tmp_path / "a.html", scores=scores, threshold=float("nan"), **common)
    assert not (tmp_path / "a.html").exists()


def _text(html_page: str) -> str:
    import html

    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_page))).replace(" ,", ",")


def test_chosen_configuration_heads_the_report(data, tmp_path):
    frame, _, scores, _ = data
    selected = {"config_id": "knn-1a2b", "family": "knn", "params": {"n_neighbors": 10, "method": "largest"},
                "predicted_auroc": 0.8123}
    text = write_report(tmp_path / "r.html", scores=scores, threshold=0.5, frame=frame, title="T",
                        detector_name="auto", params={"contamination": 0.1, "prior_strength": 20},
                        selected=selected).read_text()
    plain = _text(text)
    assert "Detector: knn (configuration knn-1a2b), chosen by auto, predicted AUROC 0.812" in plain
    header = plain[: plain.index("Summary")]
    assert header.index("n_neighbors 10") < header.index("Settings of auto itself") < header.index("prior_strength")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"threshold": "fpr:0.01", "contamination": 0.1},
         "It flags 10% of these rows, not 1%: on the training table the top 10% of scores (contamination=0.1) are "
         "set aside as suspected anomalies and the threshold is the 99% quantile of the rest, so about 10% + 1% of "
         "the remaining 90% = 10.9% of training rows are flagged."),
        ({"threshold": None, "contamination": 0.05},
         "Threshold rule: the top 5% of training scores (contamination=0.05). It flags 10% of these rows."),
        ({"threshold": 0.5}, "Threshold rule: the fixed value 0.5. It flags 10% of these rows."),
    ],
)
def test_summary_states_flag_rate_against_the_rule(tmp_path, params, expected):
    scores = np.r_[np.zeros(90), np.ones(10)]
    frame = pd.DataFrame({"x": scores})
    text = write_report(tmp_path / "r.html", scores=scores, threshold=0.5, frame=frame, title="T",
                        detector_name="knn", params=params).read_text()
    assert expected.replace("10% of these", "10.0% of these") in _text(text)
