"""The measurement window's figures, computed on the master from combined statistics.

Only entries whose request type is the measured one (see phases.request_type)
count. Percentiles are those of all workers' requests together, not an average of
per-worker percentiles: from the workers' flushed 3-significant-digit histograms
(latency.py) when they hold exactly the requests Locust counted, otherwise (a worker
that never flushed) from Locust's merged, coarser response-time buckets.
"""

from __future__ import annotations

import logging
from typing import Any

from locust.stats import RequestStats, StatsEntry

from endpoint_loadtest.loadgen.errors import parse_failure_name, status_class
from endpoint_loadtest.loadgen.latency import LATENCY, SERVICE, LatencyHistogram
from endpoint_loadtest.loadgen.phases import MEASURE, PHASES, request_type, service_type

log = logging.getLogger("elt.window_stats")

PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}


def _merged(stats: RequestStats, method: str) -> StatsEntry:
    merged = StatsEntry(stats, "measured", method)
    for entry in stats.entries.values():
        if entry.method == method:
            merged.extend(entry)
    return merged


def _latency(entry: StatsEntry, histogram: LatencyHistogram | None) -> dict[str, float | None]:
    samples = entry.num_requests - entry.num_none_requests
    has_samples = samples > 0
    if histogram is not None and histogram.count != samples:
        log.warning(
            "fine latency histograms hold %d of %d %s requests (a worker did not flush): "
            "percentiles from Locust's whole-millisecond buckets",
            histogram.count,
            samples,
            entry.method,
        )
        histogram = None
    percentile = (
        histogram.percentile
        if histogram is not None
        else lambda fraction: float(entry.get_response_time_percentile(fraction))
    )
    latency: dict[str, float | None] = {
        key: percentile(fraction) if has_samples else None for key, fraction in PERCENTILES.items()
    }
    latency["mean"] = round(entry.avg_response_time, 3) if has_samples else None
    latency["max"] = round(entry.max_response_time, 3) if has_samples else None
    return latency


def window_result(
    stats: RequestStats,
    base_request_type: str,
    histograms: dict[str, LatencyHistogram] | None = None,
) -> dict[str, Any]:
    """Requests, failures, latency percentiles and errors of the measured phase.

    `histograms`: the workers' merged fine histograms by kind (latency.merge_messages).
    Open model: `serviceLatencyMs` from the service-time entries (only when there are
    any); they are not requests and are not counted as such."""
    histograms = histograms or {}
    method = request_type(base_request_type, MEASURE)
    entry = _merged(stats, method)
    latency = _latency(entry, histograms.get(LATENCY))
    service = _merged(stats, request_type(service_type(base_request_type), MEASURE))
    errors_by_type: dict[str, int] = {}
    errors_by_status: dict[str, int] = {}
    for error in stats.errors.values():
        if error.method != method:
            continue
        error_type, status = parse_failure_name(str(error.error))
        errors_by_type[error_type] = errors_by_type.get(error_type, 0) + error.occurrences
        key = status_class(status)
        errors_by_status[key] = errors_by_status.get(key, 0) + error.occurrences
    totals = {
        phase: sum(
            e.num_requests
            for e in stats.entries.values()
            if e.method == request_type(base_request_type, phase)
        )
        for phase in PHASES
    }
    extra = (
        {"serviceLatencyMs": _latency(service, histograms.get(SERVICE))}
        if service.num_requests
        else {}
    )
    return {
        **extra,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "latencyMs": latency,
        "errorsByType": errors_by_type,
        "errorsByStatus": errors_by_status,
        "requestsByPhase": totals,
        "totalRequests": sum(totals.values()),
    }
