"""A capacity search's sections: the curve, the knee, the recommendation, the steps.

Read from status.capacity as a plain dict (the search's own schema, camelCase)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from endpoint_loadtest.report import charts
from endpoint_loadtest.report.page import chart, number, percent, table


def answer_section(capacity: dict[str, Any]) -> str:
    """The answer in words: the maximum TPS, per instance, what limited it."""
    at_least = "at least " if capacity.get("atLeast") else ""
    rows = [
        ["maximum TPS within the SLO", at_least + number(capacity.get("maxTPS"), "/s", None)],
        ["per instance", at_least + number(capacity.get("perInstanceTPS"), "/s", None)],
        ["instances during the search", number(capacity.get("instances"))],
        ["limited by", number(capacity.get("limitedBy"))],
        ["detail", escape(str(capacity.get("limitDetail") or ""))],
        ["steps", number(len(capacity.get("steps") or []))],
    ]
    return '<h2>Capacity</h2><div id="capacity">' + table(["figure", "value"], rows, {1}) + "</div>"


def curve_section(capacity: dict[str, Any], spec: dict[str, Any]) -> str:
    """Achieved vs offered TPS, latency vs achieved TPS, error rate: the knee marked."""
    steps = sorted(capacity.get("steps") or [], key=lambda s: s.get("offeredTPS") or 0.0)
    if not steps:
        return '<h2>The curve</h2><p class="note">No step was measured.</p>'
    knee = _knee(steps)
    failed = [s for s in steps if not s.get("passed")]
    offered = [s.get("offeredTPS") for s in steps]
    diagonal = charts.clean([(min(offered), min(offered)), (max(offered), max(offered))])
    throughput = chart(
        charts.xy_chart(
            "Achieved vs offered TPS",
            "offered requests/s",
            "achieved requests/s",
            {"achieved": charts.clean((s.get("offeredTPS"), s.get("achievedTPS")) for s in steps)},
            marks=_marks(knee, failed, "offeredTPS", "achievedTPS"),
            dashed={"achieved = offered": diagonal},
        ),
        "Each dot is one step, judged on its own measured window; the knee is the highest "
        "step that met the SLO.",
    )
    by_achieved = sorted(steps, key=lambda s: s.get("achievedTPS") or 0.0)
    limit = ((spec.get("thresholds") or {}).get("latencyMs") or {}).get("p99")
    achieved = [s.get("achievedTPS") or 0.0 for s in steps]
    latency_limit = (
        {"p99 limit": [(min(achieved), float(limit)), (max(achieved), float(limit))]}
        if limit is not None
        else {}
    )
    latency = chart(
        charts.xy_chart(
            "Latency vs achieved TPS",
            "achieved requests/s",
            "ms",
            {
                "p50": charts.clean((s.get("achievedTPS"), s.get("p50Ms")) for s in by_achieved),
                "p99": charts.clean((s.get("achievedTPS"), s.get("p99Ms")) for s in by_achieved),
            },
            marks=_marks(knee, failed, "achievedTPS", "p99Ms"),
            dashed=latency_limit,
        )
    )
    errors = chart(
        charts.xy_chart(
            "Error rate vs offered TPS",
            "offered requests/s",
            "% of requests",
            {
                "error rate": charts.clean(
                    (s.get("offeredTPS"), (s.get("errorRate") or 0.0) * 100) for s in steps
                )
            },
            marks=_marks(knee, failed, "offeredTPS", "errorRate", scale=100.0),
        )
    )
    return '<h2>The curve</h2><div id="curve">' + throughput + latency + errors + "</div>"


def recommendation_section(capacity: dict[str, Any]) -> str:
    """The instance count for the target and the autoscaling policy, ready to apply."""
    advice = capacity.get("recommendation")
    if not advice:
        return (
            '<h2>Recommendation</h2><p class="note" id="recommendation">None: '
            "search.targetTPS was not set, or the search found no maximum.</p>"
        )
    rows = [
        ["target TPS", number(advice.get("targetTPS"), "/s", None)],
        ["target utilisation", number(percent(advice.get("targetUtilization")), " %", 0)],
        ["instances", f"<b>{number(advice.get('instances'))}</b>"],
        ["safety factor", number(advice.get("safetyFactor"), "", 2)],
        [
            "SageMakerVariantInvocationsPerInstance target (per minute)",
            number(advice.get("invocationsPerInstanceTarget"), "", None),
        ],
    ]
    policy = json.dumps(advice.get("scalingPolicy") or {}, indent=2)
    return (
        '<h2>Recommendation</h2><div id="recommendation">'
        + table(["figure", "value"], rows, {1})
        + '<p class="note">Application Auto Scaling target-tracking policy:</p>'
        + f"<pre>{escape(policy)}</pre></div>"
    )


def steps_section(capacity: dict[str, Any]) -> str:
    steps = capacity.get("steps") or []
    streamed = any(s.get("ttftP99Ms") is not None for s in steps)
    rows = [
        [
            number(s.get("index")),
            number(s.get("offeredTPS"), "/s", None),
            number(s.get("achievedTPS"), "/s"),
            number(s.get("p50Ms"), " ms"),
            number(s.get("p99Ms"), " ms"),
            *(_streamed_cells(s) if streamed else []),
            number(percent(s.get("errorRate")), " %", 3),
            number(s.get("cpuPerInstance"), " %"),
            '<span class="ok">met</span>' if s.get("passed") else '<span class="bad">broken</span>',
            escape(str(s.get("limitedBy") or "")),
            escape(str(s.get("message") or "")),
        ]
        for s in steps
    ]
    figures = ["p50", "p99", *(["TTFT p99", "TPOT p99", "tokens/s"] if streamed else [])]
    head = ["step", "offered", "achieved", *figures, "errors", "CPU/instance", "SLO",
            "limited by", "in words"]  # fmt: skip
    numeric = set(range(len(head) - 3))
    return '<h2>Steps</h2><div id="steps">' + table(head, rows, numeric) + "</div>"


def _streamed_cells(step: dict[str, Any]) -> list[str]:
    """A streamed target's step: its window's TTFT and TPOT p99 and output tokens/s."""
    return [
        number(step.get("ttftP99Ms"), " ms"),
        number(step.get("tpotP99Ms"), " ms"),
        number(step.get("outputTokensPerSecond"), "/s"),
    ]


def _knee(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    passed = [s for s in steps if s.get("passed")]
    return max(passed, key=lambda s: s.get("offeredTPS") or 0.0) if passed else None


def _marks(
    knee: dict[str, Any] | None,
    failed: list[dict[str, Any]],
    x: str,
    y: str,
    scale: float = 1.0,
) -> dict[str, tuple[str, list[charts.Point]]]:
    def at(step: dict[str, Any]) -> tuple[Any, Any]:
        value = step.get(y)
        return step.get(x), None if value is None else value * scale

    marks: dict[str, tuple[str, list[charts.Point]]] = {}
    if knee is not None:
        marks["knee"] = ("knee: the max TPS within the SLO", charts.clean([at(knee)]))
    if failed:
        marks["broken"] = ("step that broke the SLO", charts.clean(at(s) for s in failed))
    return marks
