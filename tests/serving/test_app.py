"""The scoring service over real HTTP: good requests, every kind of bad request, the token, limits, metrics."""

from __future__ import annotations

import io
import logging
import time

import numpy as np
import pandas as pd
import pytest

import metaad
from metaad.serving import create_app
from metaad.serving.model import ServedModel

from tests.serving.conftest import TOKEN, httpx, records, running, training_frame

AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMITS = {"max_rows": 50, "max_body_bytes": 20_000, "max_file_bytes": 200_000}


@pytest.fixture(scope="module")
def service(model_dirs):
    app = create_app(model_dirs["iforest"], token=TOKEN, **LIMITS)
    with running(app) as url:
        with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
            yield app, client


@pytest.fixture(scope="module")
def ae_service(model_dirs):
    app = create_app(model_dirs["autoencoder"], token=TOKEN)
    with running(app) as url:
        with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
            yield app, client


def new_rows(n: int = 5, seed: int = 1) -> pd.DataFrame:
    return training_frame(n, seed=seed)


def no_trace(response: httpx.Response) -> None:
    assert "Traceback" not in response.text and 'File "' not in response.text


# ----------------------------------------------------------------------------------------------- good requests
def test_records_and_columns_score_like_the_pipeline(service, model_dirs):
    _, client = service
    frame = new_rows(8)
    by_rows = client.post("/score", json={"rows": records(frame)})
    by_columns = client.post("/score", json={"columns": {k: [r[k] for r in records(frame)] for k in frame.columns}})
    assert by_rows.status_code == 200 and by_columns.status_code == 200
    expected = metaad.load(model_dirs["iforest"]).decision_function(frame)
    for answer in (by_rows.json(), by_columns.json()):
        scores = np.array([r["score"] for r in answer["results"]])
        np.testing.assert_allclose(scores, expected, rtol=1e-12)
        assert [r["is_anomaly"] for r in answer["results"]] == (expected > answer["threshold"]).tolist()
        assert answer["n_rows"] == 8 and answer["detector"] == "iforest"


def test_columns_in_any_order_and_numeric_categories(service):
    _, client = service
    row = records(new_rows(1))[0]
    shuffled = {key: row[key] for key in reversed(list(row))}
    first = client.post("/score", json={"rows": [row]}).json()["results"]
    assert client.post("/score", json={"rows": [shuffled]}).json()["results"] == first
    assert client.post("/score", json={"rows": [dict(row, country=7)]}).status_code == 200


def test_missing_values_are_imputed_with_a_warning(service):
    _, client = service
    row = dict(records(new_rows(1))[0], amount=None)
    answer = client.post("/score", json={"rows": [row]})
    assert answer.status_code == 200
    assert answer.json()["results"][0]["score"] is not None
    assert any("amount" in w for w in answer.json()["warnings"])


def test_values_that_overflow_float32_are_422_naming_the_field(service):
    _, client = service
    row = dict(records(new_rows(1))[0], age=-1e300)
    answer = client.post("/score", json={"rows": [row, row]})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["rows", 0, "age"]
    assert "out of range" in answer.json()["error"]
    infinite = client.post("/score", content=b'{"rows": [%s]}' % str(row).replace("'", '"').replace("-1e+300", "Infinity").encode(),
                           headers={"Content-Type": "application/json"})
    assert infinite.status_code == 200 and any("infinite" in w for w in infinite.json()["warnings"])


def test_explain_returns_contributions_per_input_column(ae_service, model_dirs):
    _, client = ae_service
    frame = new_rows(3)
    answer = client.post("/score", params={"explain": "true"}, json={"rows": records(frame)})
    assert answer.status_code == 200 and answer.json()["explained"] is True
    expected = metaad.load(model_dirs["autoencoder"]).explain(frame)
    for row, (_, want) in zip(answer.json()["results"], expected.iterrows(), strict=True):
        assert list(row["contributions"]) == ["amount", "age", "country", "hour"]
        np.testing.assert_allclose(list(row["contributions"].values()), want.to_numpy(), rtol=1e-6)


def test_explain_on_a_classical_detector_uses_the_model_agnostic_contributions(service):
    _, client = service
    answer = client.post("/score?explain=true", json={"rows": records(new_rows(2))}).json()
    assert answer["explained"] is True
    assert set(answer["results"][0]["contributions"]) == set(new_rows(1).columns)


def test_empty_rows_score_nothing(service):
    _, client = service
    answer = client.post("/score", json={"rows": []})
    assert answer.status_code == 200 and answer.json()["results"] == []


# ----------------------------------------------------------------------------------------------- bad requests
ROW = records(training_frame(1, seed=3))[0]
BAD_BODIES = {
    "missing field": ({"rows": [{k: v for k, v in ROW.items() if k != "age"}]}, "age"),
    "extra field": ({"rows": [dict(ROW, colour="red")]}, "colour"),
    "text in a numeric field": ({"rows": [dict(ROW, amount="12.5")]}, "amount"),
    "boolean in a numeric field": ({"rows": [dict(ROW, hour=True)]}, "hour"),
    "list in a categorical field": ({"rows": [dict(ROW, country=["fr"])]}, "country"),
    "second row mistyped": ({"rows": [ROW, dict(ROW, age={"x": 1})]}, "age"),
    "row not an object": ({"rows": [ROW, 5]}, "rows.1"),
    "rows not a list": ({"rows": {"amount": 1}}, "rows"),
    "both rows and columns": ({"rows": [ROW], "columns": {}}, "rows"),
    "neither rows nor columns": ({}, "rows"),
    "unknown top-level key": ({"rows": [ROW], "limit": 3}, "limit"),
    "columns of unequal length": ({"columns": {k: [v, v] if k != "hour" else [v] for k, v in ROW.items()}}, "hour"),
    "missing column": ({"columns": {k: [v] for k, v in ROW.items() if k != "country"}}, "country"),
    "column not a list": ({"columns": {k: v for k, v in ROW.items()}}, "amount"),
}


@pytest.mark.parametrize("body, field", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_bad_bodies_are_422_naming_the_field(service, body, field):
    _, client = service
    answer = client.post("/score", json=body)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["error"] or field in str(answer.json()["detail"])
    no_trace(answer)


@pytest.mark.parametrize("content, content_type", [
    (b"{not json", "application/json"),
    (b"amount=1", "application/x-www-form-urlencoded"),
    (b"", "application/json"),
    (b"[1, 2]", "application/json"),
    ("{\"rows\": [\"\udcff\"]}".encode("utf-8", "surrogatepass"), "application/json"),
])
def test_malformed_bodies_are_4xx_without_traces(service, content, content_type):
    _, client = service
    answer = client.post("/score", content=content, headers={"Content-Type": content_type})
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"]
    no_trace(answer)


def test_bad_query_parameter_is_422(service):
    _, client = service
    answer = client.post("/score?explain=maybe", json={"rows": [ROW]})
    assert answer.status_code == 422 and "explain" in answer.json()["error"]


def test_unknown_path_is_404_json(service):
    _, client = service
    answer = client.get("/nowhere")
    assert answer.status_code == 404 and answer.json()["error"]


# ----------------------------------------------------------------------------------------------- limits
def test_too_many_rows_is_413(service):
    _, client = service
    answer = client.post("/score", json={"rows": [ROW] * (LIMITS["max_rows"] + 1)})
    assert answer.status_code == 413 and "51 rows" in answer.json()["error"]
    columns = {k: [v] * (LIMITS["max_rows"] + 1) for k, v in ROW.items()}
    assert client.post("/score", json={"columns": columns}).status_code == 413
    assert client.post("/score", json={"rows": [ROW] * LIMITS["max_rows"]}).status_code == 200


def test_oversized_body_is_413_with_or_without_content_length(service):
    _, client = service
    big = b'{"rows": [' + b" " * (LIMITS["max_body_bytes"] + 10) + b"]}"
    declared = client.post("/score", content=big, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413 and f"({len(big)} bytes) exceeds the limit of 20000 bytes" in declared.json()["error"]

    def chunks():  # no Content-Length: the body arrives chunked and is counted as it comes
        for start in range(0, len(big), 4096):
            yield big[start:start + 4096]

    streamed = client.post("/score", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413


def test_timeout_is_503(model_dirs, monkeypatch):
    app = create_app(model_dirs["iforest"], timeout=0.2)
    slow = ServedModel.detector_scores

    def sleepy(self, matrix):
        time.sleep(1.0)
        return slow(self, matrix)

    monkeypatch.setattr(ServedModel, "detector_scores", sleepy)
    with running(app) as url:
        answer = httpx.post(f"{url}/score", json={"rows": [ROW]}, timeout=10)
    assert answer.status_code == 503 and "timeout" in answer.json()["error"]


def test_unexpected_error_is_500_without_details_and_logged(model_dirs, monkeypatch, caplog):
    app = create_app(model_dirs["iforest"])

    def broken(self, matrix):
        raise RuntimeError("internal detail that must stay in the server log")

    monkeypatch.setattr(ServedModel, "detector_scores", broken)
    with caplog.at_level(logging.ERROR, logger="metaad.serving"), running(app) as url:
        answer = httpx.post(f"{url}/score", json={"rows": [ROW]}, timeout=10)
    assert answer.status_code == 500
    assert "internal detail" not in answer.text and answer.json()["error"].startswith("internal error (id ")
    no_trace(answer)
    error_id = answer.json()["error"].split("id ")[1].split(";")[0]
    assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)


# ----------------------------------------------------------------------------------------------- the token
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                                     {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": "Bearer"}])
def test_every_endpoint_but_health_needs_the_token(service, headers):
    _, client = service
    bare = httpx.Client(base_url=str(client.base_url), headers=headers, timeout=10)
    for method, path in [("POST", "/score"), ("POST", "/score/file"), ("GET", "/model"), ("GET", "/metrics"),
                         ("POST", "/admin/reload"), ("GET", "/openapi.json")]:
        answer = bare.request(method, path, json={"rows": [ROW]})
        assert answer.status_code == 401, (method, path)
        assert answer.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in answer.text
    assert bare.get("/health").status_code == 200


def test_the_token_never_reaches_the_logs(model_dirs, caplog):
    app = create_app(model_dirs["iforest"], token=TOKEN)
    with caplog.at_level(logging.DEBUG), running(app) as url:
        httpx.post(f"{url}/score", json={"rows": [ROW]}, headers=AUTH, timeout=10)
        httpx.post(f"{url}/score", json={"rows": [ROW]}, headers={"Authorization": f"Bearer {TOKEN[:-1]}"}, timeout=10)
        httpx.post(f"{url}/score", json={"rows": ["x"]}, headers=AUTH, timeout=10)
    assert any("POST /score" in r.getMessage() for r in caplog.records)  # the access log was captured
    assert TOKEN[:-1] not in caplog.text


def test_admin_reload_without_a_token_configured_is_refused(model_dirs):
    with running(create_app(model_dirs["iforest"])) as url:
        answer = httpx.post(f"{url}/admin/reload", timeout=10)
    assert answer.status_code == 403 and "SIGHUP" in answer.json()["error"]


# ----------------------------------------------------------------------------------------------- /score/file
def test_file_upload_csv_and_parquet_answer_csv(service, model_dirs):
    _, client = service
    frame = new_rows(40)
    expected = metaad.load(model_dirs["iforest"]).decision_function(frame)
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    for content, content_type in [(frame.to_csv(index=False).encode(), "text/csv"),
                                  (buffer.getvalue(), "application/vnd.apache.parquet"),
                                  (buffer.getvalue(), "application/octet-stream")]:
        answer = client.post("/score/file", content=content, headers={"Content-Type": content_type})
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        scored = pd.read_csv(io.StringIO(answer.text))
        assert scored.columns.tolist() == ["row", "score", "is_anomaly"]
        assert scored["row"].tolist() == list(range(40))
        np.testing.assert_allclose(scored["score"], expected, rtol=1e-9)


@pytest.mark.parametrize("content, needle", [
    (b"amount,age,country,hour\n1,2,fr,3\n1,abc,fr,3\n", "'age' row 1: value 'abc'"),
    (b"amount,age,country\n1,2,fr\n", "missing column(s) ['hour']"),
    (b"amount,age,country,hour,extra\n1,2,fr,3,4\n", "unexpected column(s) ['extra']"),
    (b"amount,age,country,hour\n1,2,fr\n", "not a readable CSV"),
    (b"PAR1 this is no parquet", "not a readable Parquet"),
    (b"", "empty"),
    (b"amount,age,country,hour\n1,2,fr,3\n1,-1e300,fr,3\n", "rows.1.age: value -1e+300 is out of range"),
])
def test_bad_file_uploads_are_422_naming_the_problem(service, content, needle):
    _, client = service
    answer = client.post("/score/file", content=content)
    assert answer.status_code == 422, answer.text
    assert needle in answer.json()["error"]
    no_trace(answer)


def test_file_upload_over_the_limit_is_413(service):
    _, client = service
    frame = training_frame(20_000)  # ~580 kB: the service drains it before answering, so no connection reset
    content = frame.to_csv(index=False).encode()
    assert len(content) > LIMITS["max_file_bytes"]
    assert client.post("/score/file", content=content, headers={"Content-Type": "text/csv"}).status_code == 413


# ----------------------------------------------------------------------------------------------- /health, /model, /metrics
def test_health_and_model(service):
    app, client = service
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model_loaded"] is True
    assert health["model_version"] == app.state.holder.current.version
    model = client.get("/model").json()
    assert model["detector"] == "iforest" and model["params"]["n_estimators"] == 50
    assert [c["name"] for c in model["schema"]["columns"]] == ["amount", "age", "country", "hour"]
    assert model["schema"]["columns"][2]["categories"] == ["de", "fr", "it"]
    assert model["threshold"] == pytest.approx(app.state.holder.current.pipeline.threshold_)
    assert model["metaad_version_saved"] == metaad.__version__ and model["saved_at"]


def test_openapi_describes_the_model_rows(service):
    _, client = service
    document = client.get("/openapi.json").json()
    assert set(document["components"]["schemas"]["Row"]["properties"]) == {"amount", "age", "country", "hour"}
    assert {"/score", "/score/file", "/health", "/model", "/metrics", "/admin/reload"} <= set(document["paths"])


def test_metrics_parse_and_count(model_dirs):
    parser = pytest.importorskip("prometheus_client.parser", reason="prometheus_client is not installed")
    app = create_app(model_dirs["iforest"])
    with running(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        for _ in range(3):
            client.post("/score", json={"rows": [ROW, ROW]})
        client.post("/score", json={"rows": [{"amount": "x"}]})
        text = client.get("/metrics").text
    samples = {}
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    assert samples[("metaad_requests_total", (("endpoint", "/score"), ("status", "200")))] == 3
    assert samples[("metaad_requests_total", (("endpoint", "/score"), ("status", "422")))] == 1
    assert samples[("metaad_request_duration_seconds_count", (("endpoint", "/score"),))] == 4
    assert samples[("metaad_request_duration_seconds_bucket", (("endpoint", "/score"), ("le", "+Inf")))] == 4
    assert samples[("metaad_rows_scored_total", ())] == 6
    assert 0 <= samples[("metaad_flagged_share", ())] <= 1
