"""The master's window result as the API's Results (status.results, result.json)."""

from __future__ import annotations

from typing import Any

from endpoint_loadtest.api.models import LatencySummary, Results, StreamingResults


def results_from_window(window: dict[str, Any]) -> Results:
    requests = int(window.get("requests", 0))
    failures = int(window.get("failures", 0))
    seconds = float(window.get("windowSeconds") or 0.0)
    failure_latency = window.get("failureLatencyMs") if failures else None
    return Results(
        requests=requests,
        failures=failures,
        tps=round(requests / seconds, 3) if seconds > 0 else 0.0,
        success_tps=round((requests - failures) / seconds, 3) if seconds > 0 else 0.0,
        error_rate=round(failures / requests, 6) if requests else 0.0,
        latency_ms=LatencySummary(**(window.get("latencyMs") or {})),
        failure_latency_ms=LatencySummary(**failure_latency)
        if failures and failure_latency
        else None,
        errors_by_type=dict(window.get("errorsByType") or {}),
        error_samples=dict(window.get("errorSamples") or {}),
        errors_by_status=dict(window.get("errorsByStatus") or {}),
        window_seconds=round(seconds, 3),
        total_requests=int(window.get("totalRequests", requests)),
        max_worker_cpu_percent=window.get("maxWorkerCpuPercent"),
        service_latency_ms=(
            LatencySummary(**window["serviceLatencyMs"]) if window.get("serviceLatencyMs") else None
        ),
        intended_requests=window.get("intendedRequests"),
        shortfall=window.get("shortfall"),
        streaming=(
            StreamingResults.model_validate(window["streaming"])
            if window.get("streaming") is not None
            else None
        ),
    )
