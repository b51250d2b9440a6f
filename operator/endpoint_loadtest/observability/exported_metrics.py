"""What /metrics exports: every series' name, type, help text and extra labels.

`METRICS` is the single catalogue: the collector builds its families from it, and
docs/observability.md and the dashboard test read it, so a series exists in one place.
The streaming and capacity-search series join from their own modules.
"""

from __future__ import annotations

from endpoint_loadtest.observability.capacity_metrics import METRICS as CAPACITY_METRICS
from endpoint_loadtest.observability.streaming_metrics import METRICS as STREAMING_METRICS

PREFIX = "elt"
LABELS = ("namespace", "name", "run")

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
