"""A single test's sections: the window's figures, the time series, client vs CloudWatch."""

from __future__ import annotations

import functools
import itertools
from typing import Any

from endpoint_loadtest.engine import timeline
from endpoint_loadtest.report import charts
from endpoint_loadtest.report.page import chart, number, percent, table


def figures_section(results: dict[str, Any]) -> str:
    """The verdict's figures over the measured window: the only TPS the report prints."""
    latency = results.get("latencyMs") or {}
    rows = [
        ["answers per second (successTps, judged)", number(results.get("successTps"), "/s")],
        ["requests per second (tps, failures included)", number(results.get("tps"), "/s")],
        ["requests in the window", number(results.get("requests"))],
        ["failures", number(results.get("failures"))],
        ["error rate", number(percent(results.get("errorRate")), " %", 3)],
        ["measured window", number(results.get("windowSeconds"), " s")],
        ["latency p50 / p90 / p99", " / ".join(
            number(latency.get(k), " ms") for k in ("p50", "p90", "p99"))],
        ["busiest load-generator process", number(results.get("maxWorkerCpuPercent"), " % CPU")],
    ]  # fmt: skip
    if results.get("intendedRequests") is not None:
        rows.append(["intended requests (open model)", number(results.get("intendedRequests"))])
        rows.append(["shortfall (not sent on time)", number(results.get("shortfall"))])
    rows.append(["all requests of the run (ramp-up, warmup)", number(results.get("totalRequests"))])
    return (
        '<h2>The measured window</h2><div id="figures">'
        + table(["figure", "value"], [[name, value] for name, value in rows], {1})
        + "</div>"
    )


def series_section(status: dict[str, Any], spec: dict[str, Any]) -> str:
    """RPS, latency, errors, users or target rate and worker CPU over time."""
    series = status.get("series") or {}
    points = timeline.points(series)
    if not points:
        return '<h2>Over time</h2><p class="note">No time series in the status.</p>'
    results = status.get("results") or {}
    window = _window(series, results)
    t = [p["t"] for p in points]
    span = (0.0, max(t[-1], window[1] if window else 0.0))
    timed = functools.partial(charts.time_chart, span=span)
    latency = {"p50": _column(points, "p50Ms"), "p99": _column(points, "p99Ms")}
    limit, limit_note = _limit(spec, window, span, latency["p99"])
    verdict_tps: dict[str, list[charts.Point]] = {}
    if window is not None and results.get("successTps") is not None:
        verdict_tps["answers/s over the window (the verdict's)"] = [
            (window[0], results["successTps"]),
            (window[1], results["successTps"]),
        ]
    open_model = any(p.get("targetTPS") is not None for p in points)
    throughput = {"requests/s (live, last seconds)": _column(points, "rps")}
    if open_model:
        throughput["target rate"] = _column(points, "targetTPS")
    parts = [
        "<h2>Over time</h2>",
        chart(
            timed("Throughput", "requests/s", throughput, window, dashed=verdict_tps),
            "The live rate is Locust's over its last seconds; the window's figure is the "
            "verdict's (requests answered in the window / its length).",
        ),
        chart(
            timed(
                "Latency (live)",
                "ms",
                latency,
                window,
                dashed=limit,
            ),
            limit_note,
        ),
        chart(timed("Errors", "failures/s", {"failures/s": _rates(points)}, window)),
        chart(
            timed(
                "Load",
                "target requests/s" if open_model else "users",
                {
                    "target rate" if open_model else "users": _column(
                        points, "targetTPS" if open_model else "users"
                    )
                },
                window,
            )
        ),
        chart(
            timed(
                "Load generator CPU",
                "% of one core",
                {"busiest worker process": _column(points, "workerCpu")},
                window,
            ),
            "A load generator near its CPU limit sends late: the figures would be the "
            "generator's, not the endpoint's.",
        ),
    ]
    return "".join(parts)


def cloudwatch_section(results: dict[str, Any]) -> str:
    """The client's latency beside the endpoint's ModelLatency and OverheadLatency."""
    figures = results.get("cloudwatch")
    if not figures:
        return ""
    client = results.get("latencyMs") or {}
    model = figures.get("modelLatencyMs") or {}
    overhead = figures.get("overheadLatencyMs") or {}
    labels = ["average", "p50", "p90", "p99"]
    bars = {
        "client (Locust)": [client.get("mean"), *(client.get(k) for k in labels[1:])],
        "ModelLatency (CloudWatch)": [model.get(k) for k in labels],
        "OverheadLatency (CloudWatch)": [overhead.get(k) for k in labels],
    }
    note = (
        f"CloudWatch {figures.get('endpointName')}/{figures.get('variantName')}, periods of "
        f"{figures.get('periodSeconds')} s over the window: "
        f"{number(figures.get('invocations'), '', None)} invocations; hottest instance's CPU "
        f"{number(figures.get('cpuUtilizationPercent'), ' % (summed over cores)', None)}"
        + (
            f", {number(figures.get('instanceCpuPercent'), ' % of the instance', None)}"
            if figures.get("instanceCpuPercent") is not None
            else ""
        )
        + ("" if figures.get("complete", True) else "; the last period was not published in time")
    )
    return (
        '<h2>Client and endpoint latency</h2><div id="cloudwatch">'
        + chart(charts.bar_chart("Latency over the window", "ms", labels, bars), note)
        + "</div>"
    )


def _window(series: dict[str, Any], results: dict[str, Any]) -> tuple[float, float] | None:
    """The measured window in seconds from the series' start; its end, when the last poll
    came before the master reported it, is the start plus the window's exact length."""
    start, origin = series.get("windowStart"), series.get("start")
    if start is None or origin is None:
        return None
    end = series.get("windowEnd")
    if end is None and results.get("windowSeconds"):
        end = start + float(results["windowSeconds"])
    last = series["t"][-1] if series.get("t") else 0.0
    end_t = last if end is None else end - origin
    return round(start - origin, 1), round(max(end_t, start - origin), 1)


def _column(points: list[dict[str, Any]], name: str) -> list[charts.Point]:
    return charts.clean((p["t"], p.get(name)) for p in points)


def _rates(points: list[dict[str, Any]]) -> list[charts.Point]:
    """Failures per second between polls, from the cumulative count (a reset counts anew)."""
    rates: list[charts.Point] = []
    for before, after in itertools.pairwise(points):
        a, b = before.get("failures"), after.get("failures")
        dt = after["t"] - before["t"]
        if a is None or b is None or dt <= 0:
            continue
        rates.append((after["t"], (b - a if b >= a else b) / dt))
    return rates


def _limit(
    spec: dict[str, Any],
    window: tuple[float, float] | None,
    span: tuple[float, float],
    p99: list[charts.Point],
) -> tuple[dict[str, list[charts.Point]], str]:
    """thresholds.latencyMs.p99 as a line over the window, unless it is so far above the
    measured p99 that drawing it would flatten the curves (then a note says where it is)."""
    limit = ((spec.get("thresholds") or {}).get("latencyMs") or {}).get("p99")
    if limit is None:
        return {}, ""
    highest = max((y for _, y in p99), default=0.0)
    if highest and limit > 3 * highest:
        return {}, f"The p99 limit, {limit:g} ms, is far above the chart."
    start, end = window if window is not None else span
    return {"p99 limit": [(start, float(limit)), (end, float(limit))]}, ""
