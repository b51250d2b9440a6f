"""Checks of the token stream's figures (thresholds.streaming), one verdict line each.

Judged like the other thresholds: a percentile with no sample fails (nothing was
streamed successfully, so the objective was not shown to be met). Goodput is DistServe's
and vLLM's: successful requests per second of the window that met every per-request
objective of thresholds.streaming.slo.
"""

from __future__ import annotations

from endpoint_loadtest.api.models import (
    PERCENTILES,
    Check,
    LatencyLimits,
    LatencySummary,
    Results,
    StreamingResults,
    Thresholds,
)


def _percentile_checks(
    label: str, wire: str, limits: LatencyLimits | None, figures: LatencySummary
) -> list[Check]:
    checks: list[Check] = []
    for key in PERCENTILES:
        limit = getattr(limits, key) if limits else None
        if limit is None:
            continue
        observed = getattr(figures, key)
        ok = observed is not None and observed <= limit
        seen = "no streamed samples" if observed is None else f"{observed:g} ms"
        checks.append(
            Check(
                name=f"streaming.{wire}.{key}",
                threshold=limit,
                observed=observed,
                passed=ok,
                message=f"{label} {key} {seen} {'<=' if ok else '>'} {limit:g} ms",
            )
        )
    return checks


def streaming_checks(results: Results, thresholds: Thresholds) -> list[Check]:
    """The streaming checks the user asked for, in a stable order (none when not set)."""
    limits = thresholds.streaming
    if limits is None:
        return []
    figures = results.streaming or StreamingResults()
    checks = _percentile_checks("TTFT", "ttftMs", limits.ttft_ms, figures.ttft_ms)
    checks += _percentile_checks("TPOT", "tpotMs", limits.tpot_ms, figures.tpot_ms)
    if limits.min_output_tokens_per_second is not None:
        rate, floor = figures.output_tokens_per_second, limits.min_output_tokens_per_second
        ok = rate >= floor
        checks.append(
            Check(
                name="streaming.minOutputTokensPerSecond",
                threshold=floor,
                observed=round(rate, 2),
                passed=ok,
                message=f"output tokens/s {rate:.1f} {'>=' if ok else '<'} {floor:g}",
            )
        )
    if limits.min_goodput is not None:
        goodput, floor = figures.goodput or 0.0, limits.min_goodput
        ok = goodput >= floor
        good = figures.good_requests or 0
        checks.append(
            Check(
                name="streaming.minGoodput",
                threshold=floor,
                observed=round(goodput, 3),
                passed=ok,
                message=f"goodput {goodput:.2f} requests/s ({good} of {results.requests} "
                f"requests met the objectives) {'>=' if ok else '<'} {floor:g}",
            )
        )
    return checks
