"""The /metrics exporter: per-test figures the operator (or `elt run`) already holds.

A `LoadTestExporter` is a prometheus-client collector. The runtime feeds it with
status-shaped dicts (the resource's `status`, camelCase, as written to the API or to
result.json) and, while the test runs, optionally the Locust master's last poll; a
scrape renders what is held, under a lock, and calls neither AWS nor a Locust master.

    from endpoint_loadtest.observability.exporter import EXPORTER, serve
    serve(9090)                                    # once, at start-up
    EXPORTER.update(namespace, name, status, snapshot=snapshot)   # each reconcile
    EXPORTER.remove(namespace, name)               # on deletion

Every series carries the labels namespace, name and run (status.runId); percentiles
are told apart by a `percentile` label (p50, p90, p95, p99), not `quantile`, which
Prometheus reserves for summaries. Units are
Prometheus base units: seconds and ratios (CloudWatch's percentages / 100, its
microseconds / 1e6).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

from endpoint_loadtest.loadgen.error_names import sanitize_name, top_counts
from endpoint_loadtest.observability.capacity_metrics import METRICS as CAPACITY_METRICS
from endpoint_loadtest.observability.capacity_metrics import capacity_samples
from endpoint_loadtest.observability.streaming_metrics import METRICS as STREAMING_METRICS
from endpoint_loadtest.observability.streaming_metrics import streaming_samples

PREFIX = "elt"
LABELS = ("namespace", "name", "run")
PHASES = ("Pending", "Starting", "Running", "Evaluating", "Completed", "Error")
VERDICTS = ("Passed", "Failed", "Inconclusive")
QUANTILES = {"p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99"}
CLOUDWATCH_QUANTILES = {"p50": "p50", "p90": "p90", "p99": "p99"}

# name (without prefix), type, help, extra label names. The single source of what is
# exported: docs/observability.md and the dashboard test read it.
METRICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "test_phase": ("gauge", "1 for the test's current phase, 0 for the others.", ("phase",)),
    "test_verdict": ("gauge", "1 for the verdict of a finished run.", ("verdict",)),
    "users": ("gauge", "Simulated users (current; the peak after the run).", ()),
    "workers_expected": ("gauge", "Locust workers the run expects.", ()),
    "workers_connected": ("gauge", "Locust workers connected to the master.", ()),
    "worker_cpu_max_ratio": (
        "gauge",
        "Highest CPU use of a load-generator worker (1 = one core).",
        (),
    ),
    "current_requests_per_second": ("gauge", "Requests per second now (Locust).", ()),
    "current_failures_per_second": ("gauge", "Failures per second now (Locust).", ()),
    "current_response_time_seconds": (
        "gauge",
        "Response-time percentiles over Locust's recent window.",
        ("percentile",),
    ),
    "response_time_seconds": (
        "gauge",
        "Response-time percentiles of the measurement window's successful requests (final).",
        ("percentile",),
    ),
    "requests": (
        "counter",
        "Requests sent in the run (while running: Locust's count; after: every request "
        "of the run).",
        (),
    ),
    "failures": (
        "counter",
        "Failed requests by error type (while running: Locust's errors; after: the "
        "measurement window's); the 10 most frequent types, the rest as `other`.",
        ("error_type",),
    ),
    "window_requests": ("gauge", "Requests started in the measurement window.", ()),
    "window_error_ratio": ("gauge", "Failed / all requests of the measurement window.", ()),
    "window_duration_seconds": ("gauge", "Length of the measurement window.", ()),
    "achieved_tps": ("gauge", "Achieved transactions per second (window requests / s).", ()),
    "achieved_success_tps": (
        "gauge",
        "Successful requests per second of the window (judged by thresholds.minTPS).",
        (),
    ),
    "target_tps": ("gauge", "thresholds.minTPS.", ()),
    "latency_limit_seconds": ("gauge", "thresholds.latencyMs, by percentile.", ("percentile",)),
    "cloudwatch_available": (
        "gauge",
        "1 when the endpoint's CloudWatch figures could be read, else 0.",
        (),
    ),
    "endpoint_model_latency_seconds": (
        "gauge",
        "CloudWatch ModelLatency percentiles over the window.",
        ("percentile",),
    ),
    "endpoint_model_latency_average_seconds": ("gauge", "CloudWatch ModelLatency Average.", ()),
    "endpoint_overhead_latency_seconds": (
        "gauge",
        "CloudWatch OverheadLatency percentiles over the window.",
        ("percentile",),
    ),
    "endpoint_overhead_latency_average_seconds": (
        "gauge",
        "CloudWatch OverheadLatency Average.",
        (),
    ),
    "endpoint_invocations": ("counter", "CloudWatch Invocations (Sum) over the window.", ()),
    "endpoint_invocations_per_instance": (
        "counter",
        "CloudWatch InvocationsPerInstance (Sum) over the window.",
        (),
    ),
    "endpoint_invocation_4xx_errors": (
        "counter",
        "CloudWatch Invocation4XXErrors (Sum) over the window.",
        (),
    ),
    "endpoint_invocation_5xx_errors": (
        "counter",
        "CloudWatch Invocation5XXErrors (Sum) over the window.",
        (),
    ),
    "endpoint_cpu_utilization_ratio": (
        "gauge",
        "CloudWatch CPUUtilization / 100, summed over cores (4 = four cores busy); "
        "stat=maximum is the hottest instance.",
        ("stat",),
    ),
    "endpoint_instance_cpu_utilization_ratio": (
        "gauge",
        "The hottest instance's CPU as a fraction of the instance (needs instanceVcpus).",
        (),
    ),
    "endpoint_saturated": ("gauge", "1 when an instance ran above 90% of its CPU.", ()),
    "endpoint_memory_utilization_ratio": ("gauge", "CloudWatch MemoryUtilization / 100.", ()),
    "endpoint_gpu_utilization_ratio": ("gauge", "CloudWatch GPUUtilization / 100.", ()),
    "endpoint_gpu_memory_utilization_ratio": (
        "gauge",
        "CloudWatch GPUMemoryUtilization / 100.",
        (),
    ),
}
METRICS.update(STREAMING_METRICS)
METRICS.update(CAPACITY_METRICS)


def metric_names() -> set[str]:
    """Every sample name the exporter can produce (counters with their _total)."""
    return {
        f"{PREFIX}_{name}_total" if kind == "counter" else f"{PREFIX}_{name}"
        for name, (kind, _, _) in METRICS.items()
    }


Sample = tuple[str, tuple[str, ...], float]  # metric key, extra label values, value


@dataclass
class LoadTestFigures:
    """What one test exports, already flattened into samples."""

    labels: tuple[str, str, str]
    samples: list[Sample] = field(default_factory=list)


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


def _dedupe(samples: Iterable[Sample]) -> list[Sample]:
    """The last value wins per (metric, labels): the snapshot refines status.progress."""
    merged: dict[tuple[str, tuple[str, ...]], float] = {}
    for key, extra, value in samples:
        merged[(key, extra)] = value
    return [(key, extra, value) for (key, extra), value in merged.items()]


class LoadTestExporter(Collector):
    """Holds the flattened figures of every known test; collect() renders them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scraped = threading.Condition(self._lock)
        self._tests: dict[tuple[str, str], LoadTestFigures] = {}
        self._updates = 0  # updates so far
        self._delivered = 0  # the update count the last fully sent /metrics response held

    def update(
        self,
        namespace: str,
        name: str,
        status: dict[str, Any],
        *,
        snapshot: Any = None,
        spec: dict[str, Any] | None = None,
    ) -> None:
        """Replace a test's figures with those of `status` (camelCase, as in the API).

        `snapshot`: the master's last poll (engine.observe.Snapshot) while running, for
        the figures status.progress does not carry. `spec`: the test's spec (camelCase),
        for the targets the dashboard draws against (minTPS, latency limits)."""
        run = str(status.get("runId") or "")
        figures = LoadTestFigures(
            labels=(namespace, name, run), samples=_dedupe(flatten(status, snapshot, spec))
        )
        with self._lock:
            self._tests[(namespace, name)] = figures
            self._updates += 1

    def remove(self, namespace: str, name: str) -> None:
        """Forget a deleted test: its series disappear from the next scrape."""
        with self._lock:
            self._tests.pop((namespace, name), None)

    def updates(self) -> int:
        with self._lock:
            return self._updates

    def delivered(self, updates: int) -> None:
        """A /metrics response holding the first `updates` updates was fully sent."""
        with self._scraped:
            self._delivered = max(self._delivered, updates)
            self._scraped.notify_all()

    def wait_scraped(self, timeout: float) -> bool:
        """Block until a /metrics response with the latest update has been sent through
        `serve` (or timeout); True if so. `elt run` uses it so that a scraper gets the
        final figures before the process exits."""
        with self._scraped:
            return self._scraped.wait_for(lambda: self._delivered >= self._updates, timeout)

    def keys(self) -> list[tuple[str, str]]:
        with self._lock:
            return sorted(self._tests)

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        families = {family.name: family for family in self._families()}
        with self._lock:
            tests = list(self._tests.values())
        for test in tests:
            for key, extra, value in test.samples:
                family = families[f"{PREFIX}_{key}"]
                family.add_metric([*test.labels, *extra], value)
        yield from families.values()

    @staticmethod
    def _families() -> list[Metric]:
        out: list[Metric] = []
        for key, (kind, text, extra) in METRICS.items():
            cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            out.append(cls(f"{PREFIX}_{key}", text, labels=[*LABELS, *extra]))
        return out


EXPORTER = LoadTestExporter()
REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(EXPORTER)


class _Delivered:
    """A WSGI response that tells the exporter once the server has sent all of it."""

    def __init__(self, body: Iterable[bytes], exporter: LoadTestExporter, updates: int) -> None:
        self.body, self.exporter, self.updates = body, exporter, updates

    def __iter__(self):
        return iter(self.body)

    def close(self) -> None:  # wsgiref calls it after the last byte was written
        closer = getattr(self.body, "close", None)
        if closer is not None:
            closer()
        self.exporter.delivered(self.updates)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(
    port: int,
    host: str = "0.0.0.0",
    registry: CollectorRegistry = REGISTRY,
    exporter: LoadTestExporter | None = None,
):
    """Serve /metrics on host:port in a daemon thread; returns (server, thread).

    prometheus-client's WSGI app (text or OpenMetrics by the scraper's Accept header),
    in a threading server. Port 0 picks a free port: `server.server_address[1]`."""
    exporter = exporter or EXPORTER
    app = make_wsgi_app(registry)

    def tracked(environ: dict[str, Any], start_response: Any) -> Any:
        updates = exporter.updates()
        return _Delivered(app(environ, start_response), exporter, updates)

    class Server(ThreadingWSGIServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    server = make_server(host, port, tracked, Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="elt-metrics", daemon=True)
    thread.start()
    return server, thread
