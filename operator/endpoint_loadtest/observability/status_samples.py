"""A test's status (and the Locust master's last poll) flattened into samples.

`flatten` reads the status-shaped dict the runtime hands over (camelCase, as written to
the API or to result.json) and returns (metric key, extra label values, value) triples in
Prometheus base units: milliseconds become seconds, percentages become ratios. Error
types become bounded label values (the most frequent ones, the rest as `other`). Doing
this once per update keeps a scrape to rendering held values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from endpoint_loadtest.loadgen.error_names import sanitize_name, top_counts
from endpoint_loadtest.observability.capacity_metrics import capacity_samples
from endpoint_loadtest.observability.streaming_metrics import streaming_samples

PHASES = ("Pending", "Starting", "Running", "Evaluating", "Completed", "Error")
VERDICTS = ("Passed", "Failed", "Inconclusive")
QUANTILES = {"p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99"}
CLOUDWATCH_QUANTILES = {"p50": "p50", "p90": "p90", "p99": "p99"}

Sample = tuple[str, tuple[str, ...], float]  # metric key, extra label values, value


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None if value is None else float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _ms(value: Any) -> float | None:
    number = _num(value)
    return None if number is None else number / 1000.0


def _pct(value: Any) -> float | None:
    number = _num(value)
    return None if number is None else number / 100.0


def flatten(status: dict[str, Any], snapshot: Any = None, spec: dict[str, Any] | None = None):
    """The samples of one test from its status (and the master's last poll, if any)."""
    samples: list[Sample] = []

    def put(key: str, value: Any, *extra: str) -> None:
        number = _num(value)
        if number is not None:
            samples.append((key, tuple(extra), number))

    phase = status.get("phase")
    if phase:
        for candidate in PHASES:
            put("test_phase", 1.0 if candidate == phase else 0.0, candidate)
    verdict = (status.get("verdict") or {}).get("result")
    if verdict:
        for candidate in VERDICTS:
            put("test_verdict", 1.0 if candidate == verdict else 0.0, candidate)
    workers = status.get("workers") or {}
    put("workers_expected", workers.get("expected"))
    put("workers_connected", workers.get("connected"))
    progress = status.get("progress") or {}
    results = status.get("results") or {}
    put("users", progress.get("users"))
    cpu = progress.get("maxWorkerCpuPercent", results.get("maxWorkerCpuPercent"))
    put("worker_cpu_max_ratio", _pct(cpu))
    if progress:
        put("current_requests_per_second", progress.get("currentRps"))
        put("current_response_time_seconds", _ms(progress.get("currentP50Ms")), "p50")
        put("current_response_time_seconds", _ms(progress.get("currentP99Ms")), "p99")
    if snapshot is not None:
        samples.extend(_from_snapshot(snapshot, bool(results)))
    if results:
        for key, quantile in QUANTILES.items():
            put("response_time_seconds", _ms((results.get("latencyMs") or {}).get(key)), quantile)
        put("requests", results.get("totalRequests", results.get("requests")))
        by_type = _bounded_errors(results.get("errorsByType") or {})
        for error_type, count in sorted(by_type.items()):
            put("failures", count, error_type)
        put("window_requests", results.get("requests"))
        put("window_error_ratio", results.get("errorRate"))
        put("window_duration_seconds", results.get("windowSeconds"))
        put("achieved_tps", results.get("tps"))
        put("achieved_success_tps", results.get("successTps"))
    thresholds = (spec or {}).get("thresholds") or {}
    put("target_tps", thresholds.get("minTPS"))
    for key, quantile in QUANTILES.items():
        put("latency_limit_seconds", _ms((thresholds.get("latencyMs") or {}).get(key)), quantile)
    cloudwatch = results.get("cloudwatch") or progress.get("cloudwatch")
    available = _condition(status, "CloudWatchAvailable")
    if available is not None:
        put("cloudwatch_available", 1.0 if available == "True" else 0.0)
    if cloudwatch:
        samples.extend(_cloudwatch_samples(cloudwatch))
    streaming_samples(status, spec, put)
    capacity_samples(status, snapshot, put)
    return samples


def _condition(status: dict[str, Any], kind: str) -> str | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return condition.get("status")
    return None


def _cloudwatch_samples(figures: dict[str, Any]) -> list[Sample]:
    samples: list[Sample] = []

    def put(key: str, value: float | None, *extra: str) -> None:
        if value is not None:
            samples.append((key, tuple(extra), value))

    for prefix, source in (("model", "modelLatencyMs"), ("overhead", "overheadLatencyMs")):
        latency = figures.get(source) or {}
        for key, quantile in CLOUDWATCH_QUANTILES.items():
            put(f"endpoint_{prefix}_latency_seconds", _ms(latency.get(key)), quantile)
        put(f"endpoint_{prefix}_latency_average_seconds", _ms(latency.get("average")))
    put("endpoint_invocations", _num(figures.get("invocations")))
    put("endpoint_invocations_per_instance", _num(figures.get("invocationsPerInstance")))
    put("endpoint_invocation_4xx_errors", _num(figures.get("invocation4XXErrors")))
    put("endpoint_invocation_5xx_errors", _num(figures.get("invocation5XXErrors")))
    put("endpoint_cpu_utilization_ratio", _pct(figures.get("cpuUtilizationPercent")), "maximum")
    put(
        "endpoint_cpu_utilization_ratio",
        _pct(figures.get("cpuUtilizationAveragePercent")),
        "average",
    )
    put("endpoint_instance_cpu_utilization_ratio", _pct(figures.get("instanceCpuPercent")))
    put("endpoint_saturated", _num(figures.get("saturated")))
    put("endpoint_memory_utilization_ratio", _pct(figures.get("memoryUtilizationPercent")))
    put("endpoint_gpu_utilization_ratio", _pct(figures.get("gpuUtilizationPercent")))
    put("endpoint_gpu_memory_utilization_ratio", _pct(figures.get("gpuMemoryUtilizationPercent")))
    return samples


def _from_snapshot(snapshot: Any, finished: bool) -> list[Sample]:
    """Live Locust figures beyond status.progress: p90/p95 now, failures/s, totals."""
    stats = getattr(snapshot, "stats", None) or {}
    samples: list[Sample] = []
    current = stats.get("current_response_time_percentiles") or {}
    for fraction, percentile in (("0.5", "p50"), ("0.9", "p90"), ("0.95", "p95"), ("0.99", "p99")):
        value = _ms(current.get(f"response_time_percentile_{fraction}"))
        if value is not None:
            samples.append(("current_response_time_seconds", (percentile,), value))
    fail_rate = _num(stats.get("current_fail_per_sec"))
    if fail_rate is not None:
        samples.append(("current_failures_per_second", (), fail_rate))
    if not finished:
        aggregated = next((e for e in stats.get("stats", []) if e.get("name") == "Aggregated"), {})
        requests = _num(aggregated.get("num_requests"))
        if requests is not None:
            samples.append(("requests", (), requests))
        by_type: dict[str, float] = {}
        for error in stats.get("errors", []):
            kind = sanitize_name(error.get("error", "unknown"))
            by_type[kind] = by_type.get(kind, 0.0) + float(error.get("occurrences", 0))
        bounded = _bounded_errors(by_type)
        samples.extend(("failures", (kind,), count) for kind, count in sorted(bounded.items()))
    return samples


def _bounded_errors(counts: dict[str, Any]) -> dict[str, Any]:
    """Error types as label values: sanitised, the top ones kept, the rest as `other`."""
    merged: dict[str, Any] = {}
    for name, count in counts.items():
        label = sanitize_name(name)
        merged[label] = merged.get(label, 0) + (_num(count) or 0)
    return top_counts(merged)


def dedupe(samples: Iterable[Sample]) -> list[Sample]:
    """The last value wins per (metric, labels): the snapshot refines status.progress."""
    merged: dict[tuple[str, tuple[str, ...]], float] = {}
    for key, extra, value in samples:
        merged[(key, extra)] = value
    return [(key, extra, value) for (key, extra), value in merged.items()]
