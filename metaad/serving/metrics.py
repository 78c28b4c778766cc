"""The service's counters, rendered in the Prometheus text exposition format (version 0.0.4).

Kept in-process and dependency-free: a handful of counters and one latency histogram behind a lock. With
``--workers N`` each worker process keeps its own; Prometheus sums them by scraping each (or use one worker
per container, the usual deployment).
"""

from __future__ import annotations

import threading
from collections import defaultdict

#: Latency histogram buckets, in seconds: dense under 100 ms, where one-row requests live.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _labels(**labels: str) -> str:
    inner = ",".join(
        f'{key}="{str(value).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34)).replace(chr(10), " ")}"'
        for key, value in labels.items()
    )
    return "{" + inner + "}" if inner else ""


class Metrics:
    """Request counts by endpoint and status, latency histogram, rows scored and flagged, reloads.

    Examples
    --------
    >>> m = Metrics()
    >>> m.observe_request("/score", 200, 0.004)
    >>> m.observe_rows(10, 1)
    >>> text = m.render(model_version="abc", detector="iforest")
    >>> 'metaad_requests_total{endpoint="/score",status="200"} 1' in text
    True
    >>> "metaad_flagged_share 0.1" in text
    True
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = defaultdict(lambda: [0] * len(LATENCY_BUCKETS))
        self._latency_sum: dict[str, float] = defaultdict(float)
        self._latency_count: dict[str, int] = defaultdict(int)
        self._rows = 0
        self._flagged = 0
        self._reloads: dict[str, int] = defaultdict(int)

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        with self._lock:
            self._requests[(endpoint, int(status))] += 1
            buckets = self._buckets[endpoint]
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            self._latency_sum[endpoint] += seconds
            self._latency_count[endpoint] += 1

    def observe_rows(self, scored: int, flagged: int) -> None:
        """Count rows scored and rows flagged as anomalies."""
        with self._lock:
            self._rows += int(scored)
            self._flagged += int(flagged)

    def observe_reload(self, ok: bool) -> None:
        """Count one reload attempt by its result."""
        with self._lock:
            self._reloads["ok" if ok else "error"] += 1

    def render(self, *, model_version: str, detector: str) -> str:
        """The whole registry as Prometheus text."""
        with self._lock:
            lines = [
                "# HELP metaad_requests_total HTTP requests answered, by endpoint and status code.",
                "# TYPE metaad_requests_total counter",
            ]
            for (endpoint, status), count in sorted(self._requests.items()):
                lines.append(f"metaad_requests_total{_labels(endpoint=endpoint, status=str(status))} {count}")
            lines += [
                "# HELP metaad_request_duration_seconds Time from request start to the end of the response.",
                "# TYPE metaad_request_duration_seconds histogram",
            ]
            for endpoint in sorted(self._buckets):
                for bound, count in zip(LATENCY_BUCKETS, self._buckets[endpoint], strict=True):
                    lines.append(
                        f"metaad_request_duration_seconds_bucket{_labels(endpoint=endpoint, le=repr(bound))} {count}"
                    )
                total = self._latency_count[endpoint]
                lines.append(f"metaad_request_duration_seconds_bucket{_labels(endpoint=endpoint, le='+Inf')} {total}")
                lines.append(f"metaad_request_duration_seconds_sum{_labels(endpoint=endpoint)} {self._latency_sum[endpoint]!r}")
                lines.append(f"metaad_request_duration_seconds_count{_labels(endpoint=endpoint)} {total}")
            share = self._flagged / self._rows if self._rows else 0.0
            lines += [
                "# HELP metaad_rows_scored_total Rows scored.",
                "# TYPE metaad_rows_scored_total counter",
                f"metaad_rows_scored_total {self._rows}",
                "# HELP metaad_rows_flagged_total Rows scored above the model's threshold.",
                "# TYPE metaad_rows_flagged_total counter",
                f"metaad_rows_flagged_total {self._flagged}",
                "# HELP metaad_flagged_share Share of the rows scored since start that were flagged.",
                "# TYPE metaad_flagged_share gauge",
                f"metaad_flagged_share {share!r}",
                "# HELP metaad_model_reloads_total Model reload attempts, by result.",
                "# TYPE metaad_model_reloads_total counter",
            ]
            for result in ("ok", "error"):
                lines.append(f"metaad_model_reloads_total{_labels(result=result)} {self._reloads[result]}")
            lines += [
                "# HELP metaad_model_info The model being served (value 1).",
                "# TYPE metaad_model_info gauge",
                f"metaad_model_info{_labels(version=model_version, detector=detector)} 1",
            ]
        return "\n".join(lines) + "\n"
