"""GetMetricData results turned into the figures a verdict reads (`CloudWatchResults`).

Units are converted here (SageMaker's latencies are microseconds; the figures are
milliseconds), the hottest instance's CPU is divided by its vCPUs to tell saturation,
and the probes decide whether the window's last period was published (`complete`).
Every figure that is not there is named in `missing`, so a partial scrape says what
it lacks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from endpoint_loadtest.api.models import CloudWatchLatency, CloudWatchResults
from endpoint_loadtest.observability.cloudwatch_periods import last_period_start
from endpoint_loadtest.observability.cloudwatch_queries import (
    OPTIONAL_IDS,
    PERCENTILE_QUERIES,
    STANDARD_QUERIES,
)

SATURATED_PERCENT = 90.0
MICROSECONDS_PER_MS = 1000.0


def _first(data: dict[str, dict[str, Any]], query_id: str) -> float | None:
    values = data.get(query_id, {}).get("values") or []
    return float(values[0]) if values else None


def _us_to_ms(value: float | None) -> float | None:
    return None if value is None else round(value / MICROSECONDS_PER_MS, 3)


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def parse(
    data: dict[str, dict[str, Any]],
    endpoint: str,
    variant: str,
    first: float,
    last: float,
    period: int,
    end: float,
    instance_vcpus: int | None,
) -> CloudWatchResults | None:
    """GetMetricData results (by query id) as CloudWatchResults; None if there is nothing."""
    summary_ids = [q[0] for q in STANDARD_QUERIES + PERCENTILE_QUERIES]
    if not any(data.get(i, {}).get("values") for i in summary_ids):
        return None
    last_start = last_period_start(end, period)

    def has_last(probe: str) -> bool | None:
        stamps = data.get(probe, {}).get("timestamps", [])
        return any(ts.timestamp() >= last_start - 1e-3 for ts in stamps) if stamps else None

    # The load ran until the window's end, so its last period has invocations: wait for
    # those (SageMaker publishes the two namespaces separately; the utilization of a
    # period may arrive before its invocations). Only a window without any invocation
    # data (everything throttled) falls back on the utilization probe.
    invocations_seen = has_last("probe_invocations")
    complete = bool(invocations_seen if invocations_seen is not None else has_last("probe_cpu"))
    invocations = _first(data, "invocations")
    errors_5xx = _first(data, "errors_5xx")
    cpu_max = _first(data, "cpu_max")
    instance_cpu = (
        round(cpu_max / instance_vcpus, 2) if cpu_max is not None and instance_vcpus else None
    )
    missing = []
    for query_id, _, metric, stat in STANDARD_QUERIES + PERCENTILE_QUERIES:
        entry = data.get(query_id)
        if query_id in OPTIONAL_IDS or (entry is not None and entry["values"]):
            continue
        why = "forbidden" if entry and entry["status"] == "Forbidden" else "no data"
        if entry is None:
            why = "not returned"
        missing.append(f"{metric} {stat}: {why}")
    return CloudWatchResults(
        endpoint_name=endpoint,
        variant_name=variant,
        start=datetime.fromtimestamp(first, tz=UTC),
        end=datetime.fromtimestamp(last, tz=UTC),
        period_seconds=period,
        complete=complete,
        model_latency_ms=CloudWatchLatency(
            average=_us_to_ms(_first(data, "model_latency_avg")),
            p50=_us_to_ms(_first(data, "model_latency_p50")),
            p90=_us_to_ms(_first(data, "model_latency_p90")),
            p99=_us_to_ms(_first(data, "model_latency_p99")),
        ),
        overhead_latency_ms=CloudWatchLatency(
            average=_us_to_ms(_first(data, "overhead_latency_avg")),
            p50=_us_to_ms(_first(data, "overhead_latency_p50")),
            p90=_us_to_ms(_first(data, "overhead_latency_p90")),
            p99=_us_to_ms(_first(data, "overhead_latency_p99")),
        ),
        invocations=invocations,
        invocations_per_instance=_round(_first(data, "invocations_per_instance")),
        invocation_4xx_errors=_first(data, "errors_4xx"),
        invocation_5xx_errors=errors_5xx,
        error_5xx_rate=(
            round(errors_5xx / invocations, 6)
            if errors_5xx is not None and invocations
            else (0.0 if invocations else None)
        ),
        cpu_utilization_percent=_round(cpu_max, 2),
        cpu_utilization_average_percent=_round(_first(data, "cpu_avg"), 2),
        instance_cpu_percent=instance_cpu,
        saturated=None if instance_cpu is None else instance_cpu > SATURATED_PERCENT,
        memory_utilization_percent=_round(_first(data, "memory_max"), 2),
        gpu_utilization_percent=_round(_first(data, "gpu_max"), 2),
        gpu_memory_utilization_percent=_round(_first(data, "gpu_memory_max"), 2),
        missing=missing,
    )
