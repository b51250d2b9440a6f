"""The measurement window's figures, computed on the master from combined statistics.

Only entries whose request type is the measured one (see phases.request_type)
count. Percentiles are those of all workers' requests together, not an average of
per-worker percentiles: from the workers' flushed 3-significant-digit histograms
(latency.py) when they hold exactly the requests Locust counted, otherwise (a worker
that never flushed) from Locust's merged, coarser response-time buckets.

`latencyMs` is that of the successful calls only (a fast error must not make the
endpoint look fast); the failed calls' figures are beside it in `failureLatencyMs`.
Locust's buckets mix both, so without the fine histograms the split is known only
when nothing failed (or nothing succeeded); otherwise the figures are left out.
Error types are bounded: the top ones are kept and the rest counted as `other`.
"""

from __future__ import annotations

import logging
from typing import Any

from locust.stats import RequestStats, StatsEntry

from endpoint_loadtest.loadgen.error_names import OTHER, top_counts
from endpoint_loadtest.loadgen.errors import parse_failure_name, status_class
from endpoint_loadtest.loadgen.latency import FAILURE, LATENCY, SERVICE, LatencyHistogram
from endpoint_loadtest.loadgen.phases import MEASURE, PHASES, request_type, service_type

log = logging.getLogger("elt.window_stats")

PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}


def _merged(stats: RequestStats, method: str) -> StatsEntry:
    merged = StatsEntry(stats, "measured", method)
    for entry in stats.entries.values():
        if entry.method == method:
            merged.extend(entry)
    return merged


def _latency(
    entry: StatsEntry, histogram: LatencyHistogram | None, count: int, kind: str
) -> dict[str, float | None]:
    """Figures of the `count` calls of one kind (successes or failures) of `entry`.

    From the fine histogram when it holds exactly `count` calls; else from Locust's
    entry, but only when it holds nothing else (all calls of this kind)."""
    samples = entry.num_requests - entry.num_none_requests
    empty: dict[str, float | None] = {key: None for key in [*PERCENTILES, "mean", "max"]}
    if count <= 0:
        return empty
    if histogram is not None and histogram.count == count:
        latency: dict[str, float | None] = {
            key: histogram.percentile(fraction) for key, fraction in PERCENTILES.items()
        }
        if histogram.total_ms is not None and histogram.max_ms is not None:  # exact
            latency["mean"] = round(histogram.total_ms / count, 3)
            latency["max"] = round(histogram.max_ms, 3)
        elif samples == count:
            latency["mean"] = round(entry.avg_response_time, 3)
            latency["max"] = round(entry.max_response_time, 3)
        else:
            latency["mean"] = latency["max"] = None
        return latency
    log.warning(
        "fine latency histograms hold %d of %d %s %s calls (a worker did not flush): "
        "figures from Locust's whole-millisecond buckets where they hold only those calls",
        0 if histogram is None else histogram.count,
        count,
        entry.method,
        kind,
    )
    if samples != count:  # Locust's buckets mix successes and failures
        return empty
    latency = {
        key: float(entry.get_response_time_percentile(fraction))
        for key, fraction in PERCENTILES.items()
    }
    latency["mean"] = round(entry.avg_response_time, 3)
    latency["max"] = round(entry.max_response_time, 3)
    return latency


def window_result(
    stats: RequestStats,
    base_request_type: str,
    histograms: dict[str, LatencyHistogram] | None = None,
    error_samples: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Requests, failures, latency percentiles and errors of the measured phase.

    `histograms`: the workers' merged fine histograms by kind (latency.merge_messages).
    `error_samples`: one message per failure name (errors.ErrorSamples), reported per
    kept error type. Open model: `serviceLatencyMs` from the service-time entries (only
    when there are any); they are not requests and are not counted as such."""
    histograms = histograms or {}
    method = request_type(base_request_type, MEASURE)
    entry = _merged(stats, method)
    successes = entry.num_requests - entry.num_failures
    latency = _latency(entry, histograms.get(LATENCY), successes, "successful")
    failure_latency = _latency(entry, histograms.get(FAILURE), entry.num_failures, "failed")
    service = _merged(stats, request_type(service_type(base_request_type), MEASURE))
    errors_by_type: dict[str, int] = {}
    errors_by_status: dict[str, int] = {}
    samples: dict[str, str] = {}
    for error in stats.errors.values():
        if error.method != method:
            continue
        error_type, status = parse_failure_name(str(error.error))
        errors_by_type[error_type] = errors_by_type.get(error_type, 0) + error.occurrences
        key = status_class(status)
        errors_by_status[key] = errors_by_status.get(key, 0) + error.occurrences
        sample = (error_samples or {}).get(str(error.error))
        if sample and error_type not in samples and error_type != OTHER:
            samples[error_type] = sample
    errors_by_type = top_counts(errors_by_type)
    samples = {k: v for k, v in sorted(samples.items()) if k in errors_by_type}
    totals = {
        phase: sum(
            e.num_requests
            for e in stats.entries.values()
            if e.method == request_type(base_request_type, phase)
        )
        for phase in PHASES
    }
    extra: dict[str, Any] = {}
    if service.num_requests:  # service entries are logged without failures: split by count
        extra["serviceLatencyMs"] = _latency(
            service, histograms.get(SERVICE), successes, "successful"
        )
    return {
        **extra,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "successes": successes,
        "latencyMs": latency,
        "failureLatencyMs": failure_latency,
        "errorsByType": errors_by_type,
        "errorSamples": samples,
        "errorsByStatus": errors_by_status,
        "requestsByPhase": totals,
        "totalRequests": sum(totals.values()),
    }
