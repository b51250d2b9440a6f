"""A capacity search's series on /metrics (spec.search), beside exported_metrics.py's.

Same conventions (seconds, ratios). The steps carry a `step` label (1, 2, ...: at most
search.maxSteps of them); while the search runs they come from the master's live view
(display only), once it ended from status.capacity, which the verdict rests on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LIMITS = ("latency", "errors", "throughput", "cpu", "generator")

METRICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "capacity_max_tps": (
        "gauge",
        "Capacity search: achieved TPS of the highest step within the SLO (status.capacity).",
        (),
    ),
    "capacity_per_instance_tps": ("gauge", "Capacity search: maxTPS / search.instances.", ()),
    "capacity_at_least": (
        "gauge",
        "1 when maxTPS is a lower bound (no step above it failed).",
        (),
    ),
    "capacity_limited_by": (
        "gauge",
        "1 for what limited the endpoint (latency, errors, throughput, cpu, generator).",
        ("limit",),
    ),
    "capacity_recommended_instances": (
        "gauge",
        "Instances for search.targetTPS at search.targetUtilization.",
        (),
    ),
    "capacity_invocations_per_instance_target": (
        "gauge",
        "SageMakerVariantInvocationsPerInstance target: perInstanceTPS x safetyFactor x 60.",
        (),
    ),
    "capacity_step_offered_tps": ("gauge", "A search step's offered arrival rate.", ("step",)),
    "capacity_step_achieved_tps": (
        "gauge",
        "A search step's successful requests per second of its window.",
        ("step",),
    ),
    "capacity_step_p99_seconds": (
        "gauge",
        "A search step's p99 of the successful requests.",
        ("step",),
    ),
    "capacity_step_ttft_p99_seconds": (
        "gauge",
        "A streamed target's search step: the p99 time to first token of its window.",
        ("step",),
    ),
    "capacity_step_tpot_p99_seconds": (
        "gauge",
        "A streamed target's search step: the p99 time per output token of its window.",
        ("step",),
    ),
    "capacity_step_output_tokens_per_second": (
        "gauge",
        "A streamed target's search step: output tokens of its window per second.",
        ("step",),
    ),
    "capacity_step_error_ratio": ("gauge", "A search step's failed / all requests.", ("step",)),
    "capacity_step_passed": ("gauge", "1 when the step met the SLO, else 0.", ("step",)),
}


def capacity_samples(status: dict[str, Any], snapshot: Any, put: Callable[..., None]) -> None:
    """Put the search's samples of one test through status_samples.flatten's `put`."""
    capacity = status.get("capacity") or {}
    live = (getattr(snapshot, "status", None) or {}).get("search") or {}
    steps = capacity.get("steps") or live.get("steps") or []
    for step in steps:
        index = str(step.get("index"))
        p99 = step.get("p99Ms")
        put("capacity_step_offered_tps", step.get("offeredTPS"), index)
        put("capacity_step_achieved_tps", step.get("achievedTPS"), index)
        put("capacity_step_p99_seconds", _seconds(p99), index)
        put("capacity_step_ttft_p99_seconds", _seconds(step.get("ttftP99Ms")), index)
        put("capacity_step_tpot_p99_seconds", _seconds(step.get("tpotP99Ms")), index)
        put("capacity_step_output_tokens_per_second", step.get("outputTokensPerSecond"), index)
        put("capacity_step_error_ratio", step.get("errorRate"), index)
        put("capacity_step_passed", 1.0 if step.get("passed") else 0.0, index)
    if not capacity:
        return
    put("capacity_max_tps", capacity.get("maxTPS"))
    put("capacity_per_instance_tps", capacity.get("perInstanceTPS"))
    put("capacity_at_least", 1.0 if capacity.get("atLeast") else 0.0)
    if capacity.get("limitedBy"):
        for limit in LIMITS:
            put("capacity_limited_by", 1.0 if limit == capacity["limitedBy"] else 0.0, limit)
    advice = capacity.get("recommendation") or {}
    put("capacity_recommended_instances", advice.get("instances"))
    put("capacity_invocations_per_instance_target", advice.get("invocationsPerInstanceTarget"))


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000.0
