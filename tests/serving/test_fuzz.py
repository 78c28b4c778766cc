"""Property-based fuzz of ``POST /score`` and ``POST /score/file``: no generated request gets a 5xx.

Hypothesis draws request bodies from the served model's schema and mutates them: wrong types, missing and
extra fields, nulls, non-finite and huge numbers, odd text, wrong shapes, raw bytes. Bounded in examples so
the test runs in seconds.
"""

from __future__ import annotations

import json

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis (test extra) is not installed")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from metaad.serving import create_app  # noqa: E402

from tests.serving.conftest import TOKEN, httpx, running  # noqa: E402

COLUMNS = ["amount", "age", "country", "hour"]
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
boundaries = st.sampled_from([0.0, -0.0, 1e-300, 1e20, -1e30, 3.4e38, 3.5e38, 1e300, 2**53 + 1, -(2**63)])
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(min_value=-(2**70), max_value=2**70) | boundaries
cells = {"amount": numbers, "age": numbers, "hour": numbers, "country": st.sampled_from(["fr", "de", "it", "", "zz", "é\u0000"]) | st.integers()}


@st.composite
def rows(draw) -> dict:
    row = {name: draw(cells[name] | json_values if draw(st.integers(0, 9)) == 0 else cells[name]) for name in COLUMNS}
    if draw(st.integers(0, 9)) == 0:
        row.pop(draw(st.sampled_from(COLUMNS)))
    if draw(st.integers(0, 9)) == 0:
        row[draw(st.text(max_size=10))] = draw(json_values)
    return row


@st.composite
def bodies(draw) -> bytes:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        body = draw(json_values)
    elif kind == 1:
        table = draw(st.lists(rows(), max_size=6))
        body = {"columns": {name: [r.get(name) for r in table] for name in COLUMNS}}
    else:
        body = {"rows": draw(st.lists(rows(), max_size=6))}
    text = json.dumps(body, allow_nan=True)
    return text.encode() if draw(st.integers(0, 19)) else draw(st.binary(max_size=40))


@pytest.fixture(scope="module")
def client(model_dirs):
    app = create_app(model_dirs["autoencoder"], token=TOKEN, max_rows=5, max_body_bytes=4096)
    with running(app) as url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as c:
        yield c


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies(), explain=st.sampled_from(["true", "false", "1", "yes!"]))
def test_score_never_answers_5xx(client, body, explain):
    answer = client.post("/score", params={"explain": explain}, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code < 500, (body, answer.text)
    assert answer.headers["content-type"].startswith("application/json")
    json.loads(answer.text)  # strict JSON: never NaN or Infinity in an answer


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(table=st.lists(rows(), max_size=5), header=st.permutations(COLUMNS), junk=st.binary(max_size=30))
def test_score_file_never_answers_5xx(client, table, header, junk):
    lines = [",".join(header)] + [",".join(str(r.get(name, "")).replace("\n", " ") for name in header) for r in table]
    content = "\n".join(lines).encode() + junk
    answer = client.post("/score/file", content=content, headers={"Content-Type": "text/csv"})
    assert answer.status_code < 500, (content, answer.text)
