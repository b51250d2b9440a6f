"""Judge a capacity search from the master's final result: status.capacity and the verdict.

Each step's window is judged exactly as a single test's window is (engine/judge.py, the
same thresholds: a streamed target's TTFT and TPOT limits too, latency limits here),
plus one check of its own: the step was *sustained*, its achieved TPS (successful
requests of the window per second, a single test's successTps) at least 97% of the
rate offered; a streamed step also carries its window's results.streaming figures.
What failed a step names the limit: errors first (a throttled endpoint is limited by
its errors, not saturated), then latency, then throughput, then CPU; a step the load
generator could not drive (Inconclusive) is limited by the `generator`, unless the
endpoint answered more errors than allowed (those are its own, whatever the generator
did). The bracket and the stop are engine/search.py's, read over the same steps as the
master read them while it ran.

Everything comes from the master's one final result (/elt/result), never from live
polls; the CloudWatch figures of each step's window (read after the search) are
applied here, so they can fail a step the master passed but cannot refine the bracket.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from endpoint_loadtest.api.models import (
    Check,
    CloudWatchResults,
    EndpointLoadTestSpec,
    Results,
    Thresholds,
    Verdict,
    VerdictResult,
)
from endpoint_loadtest.api.search_models import Capacity, CapacityStep, Recommendation
from endpoint_loadtest.engine import search as rule
from endpoint_loadtest.engine.judge import VALIDITY_CHECKS, judge
from endpoint_loadtest.engine.results import results_from_window
from endpoint_loadtest.engine.status import evaluate

SUSTAINED_SHARE = 0.97  # achieved / offered below this: the step was not sustained
# AWS's example policy for SageMaker variants (endpoint-auto-scaling-add-code-define).
SCALE_IN_COOLDOWN_SECONDS = 600
SCALE_OUT_COOLDOWN_SECONDS = 300


def settings_of(spec: EndpointLoadTestSpec) -> rule.Settings:
    assert spec.search is not None
    search = spec.search
    return rule.Settings(search.start_tps, search.max_tps, search.precision, search.max_steps)


# A streamed target's TTFT and TPOT limits are latency limits: the check's message
# ("TTFT p99 412 ms > 300 ms") names which one in limitDetail.
LATENCY_CHECKS = (
    "latencyMs.",
    "cloudwatch.modelLatencyMs",
    "cloudwatch.overheadLatency",
    "streaming.ttftMs.",
    "streaming.tpotMs.",
)


def _limit_of(check: Check) -> str:
    name = check.name
    if name in ("maxErrorRate", "cloudwatch.max5xxRate"):
        return "errors"
    if name.startswith(LATENCY_CHECKS):
        return "latency"
    if name == "sustained":
        return "throughput"
    if name == "cloudwatch.maxCpuUtilizationPercent":
        return "cpu"
    return "errors"


LIMIT_ORDER = ("errors", "latency", "throughput", "cpu")


def judge_step(
    window: dict[str, Any], thresholds: Thresholds, cloudwatch: CloudWatchResults | None = None
) -> tuple[Results, Verdict, CapacityStep]:
    """One step's results and verdict (as a single test's), and its line in the answer."""
    results = results_from_window(window)
    results.cloudwatch = cloudwatch
    verdict = judge(results, thresholds, list(window.get("incompleteWorkers") or []))
    offered = float(window["offeredTPS"])
    achieved = results.success_tps
    sustained = achieved >= SUSTAINED_SHARE * offered
    verdict.checks.append(
        Check(
            name="sustained",
            threshold=round(SUSTAINED_SHARE * offered, 3),
            observed=achieved,
            passed=sustained,
            message=f"{achieved:.1f} of {offered:g} TPS offered answered "
            f"{'>=' if sustained else '<'} {SUSTAINED_SHARE:.0%}",
        )
    )
    failed = [c for c in verdict.checks if not c.passed and c.name not in VALIDITY_CHECKS]
    limit: str | None = None
    generator = verdict.result == VerdictResult.INCONCLUSIVE
    if generator and not _answered_errors(results, thresholds):
        limit, message = "generator", verdict.message.removeprefix("Inconclusive: ").rstrip(".")
    elif failed:
        limit = min((_limit_of(c) for c in failed), key=LIMIT_ORDER.index)
        first = next(c for c in failed if _limit_of(c) == limit)
        message = "; ".join(c.message for c in [first, *(c for c in failed if c is not first)])
        if limit == "errors" and results.errors_by_type:  # by type: throttling is not saturation
            ranked = sorted(results.errors_by_type.items(), key=lambda kv: (-kv[1], kv[0]))
            message += " (" + ", ".join(f"{name} x{n}" for name, n in ranked[:3]) + ")"
    else:
        message = _passing_text(results, offered)
    step = CapacityStep(
        index=int(window["index"]),
        offered_tps=offered,
        achieved_tps=achieved,
        p50_ms=results.latency_ms.p50,
        p99_ms=results.latency_ms.p99,
        error_rate=results.error_rate,
        errors_by_type=dict(results.errors_by_type),
        cpu_per_instance=cloudwatch.instance_cpu_percent if cloudwatch is not None else None,
        **_streaming_figures(results),
        passed=limit is None,
        limited_by=limit,  # type: ignore[arg-type]
        message=message,
        window_start=_iso(window.get("windowStart")),
        window_end=_iso(window.get("windowEnd")),
    )
    return results, verdict, step


def _streaming_figures(results: Results) -> dict[str, float | None]:
    """A streamed step's figures: its window's results.streaming, as a single test's."""
    streaming = results.streaming
    if streaming is None:
        return {}
    return {
        "ttft_p50_ms": streaming.ttft_ms.p50,
        "ttft_p99_ms": streaming.ttft_ms.p99,
        "tpot_p50_ms": streaming.tpot_ms.p50,
        "tpot_p99_ms": streaming.tpot_ms.p99,
        "output_tokens_per_second": streaming.output_tokens_per_second,
    }


def _answered_errors(results: Results, thresholds: Thresholds) -> bool:
    """Whether the endpoint itself answered more errors (HTTP 4xx/5xx) than allowed.

    Such a step failed whatever the generator did: sends it made late or not at all only
    lowered the load the endpoint saw. (Timeouts and connection errors are not counted:
    a saturated client can cause those.)"""
    answered = sum(n for status, n in results.errors_by_status.items() if status != "none")
    return bool(results.requests) and answered / results.requests > thresholds.max_error_rate


def _passing_text(results: Results, offered: float) -> str:
    text = (
        f"{results.success_tps:.1f} of {offered:g} TPS answered, p99 "
        f"{_ms(results.latency_ms.p99)}, errors {results.error_rate:.2%}"
    )
    if (streaming := results.streaming) is not None:
        text += (
            f", TTFT p99 {_ms(streaming.ttft_ms.p99)}, TPOT p99 {_ms(streaming.tpot_ms.p99)}, "
            f"{streaming.output_tokens_per_second:.1f} output tokens/s"
        )
    return text


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:g} ms"


def _iso(epoch: Any) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(float(epoch), UTC).isoformat().replace("+00:00", "Z")


def recommendation(spec: EndpointLoadTestSpec, per_instance_tps: float) -> Recommendation | None:
    """Step 2 of AWS's practice for search.targetTPS, and AWS's autoscaling target."""
    search = spec.search
    assert search is not None
    if search.target_tps is None or per_instance_tps <= 0:
        return None
    instances = math.ceil(search.target_tps / (per_instance_tps * search.target_utilization))
    target = round(per_instance_tps * search.safety_factor * 60, 1)
    return Recommendation(
        target_tps=search.target_tps,
        target_utilization=search.target_utilization,
        instances=max(1, instances),
        safety_factor=search.safety_factor,
        invocations_per_instance_target=target,
        scaling_policy={
            "TargetValue": target,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleInCooldown": SCALE_IN_COOLDOWN_SECONDS,
            "ScaleOutCooldown": SCALE_OUT_COOLDOWN_SECONDS,
        },
    )


def assess(
    result: dict[str, Any],
    spec: EndpointLoadTestSpec,
    cloudwatch: list[CloudWatchResults | None] | None = None,
) -> tuple[Results, Verdict, Capacity]:
    """The search's results (those of the maxTPS step), verdict and capacity."""
    search = spec.search
    assert search is not None
    windows = list((result.get("search") or {}).get("steps") or [])
    judged = [
        judge_step(w, spec.thresholds, (cloudwatch or [])[i] if i < len(cloudwatch or []) else None)
        for i, w in enumerate(windows)
    ]
    steps = [step for _, _, step in judged]
    outcomes = [
        rule.Outcome(s.offered_tps, s.passed, conclusive=s.limited_by != "generator") for s in steps
    ]
    good, bad = rule.bracket(outcomes)
    if result.get("interrupted"):
        stop: rule.Stop | None = rule.Stop.INTERRUPTED
    else:
        stop = rule.next_step(settings_of(spec), outcomes).stop if steps else None
    good_step = next((s for s in reversed(steps) if s.passed and s.offered_tps == good), None)
    bad_step = next((s for s in steps if not s.passed and s.offered_tps == bad), None)
    limiting = bad_step
    if stop == rule.Stop.GENERATOR or (bad_step is None and steps and not steps[-1].passed):
        limiting = steps[-1]
    max_tps = good_step.achieved_tps if good_step is not None else None
    per_instance = round(max_tps / search.instances, 3) if max_tps is not None else None
    capacity = Capacity(
        max_tps=max_tps,
        at_least=max_tps is not None and bad is None,
        per_instance_tps=per_instance,
        instances=search.instances,
        limited_by=limiting.limited_by if limiting is not None else None,
        limit_detail=(
            f"{limiting.message} at {limiting.offered_tps:g} TPS" if limiting is not None else ""
        ),
        output_tokens_per_second=good_step.output_tokens_per_second if good_step else None,
        steps=steps,
        recommendation=recommendation(spec, per_instance) if per_instance else None,
    )
    chosen = next((j for j in judged if j[2] is good_step), judged[0] if judged else None)
    results = chosen[0] if chosen is not None else results_from_window({})
    results.total_requests = int(result.get("totalRequests") or results.total_requests)
    verdict = Verdict(
        result=_result_of(stop),
        checks=[_step_check(s) for s in steps],
        message=_message(stop, capacity, good, bad, spec),
    )
    return results, verdict, capacity


def _result_of(stop: rule.Stop | None) -> VerdictResult:
    if stop == rule.Stop.BRACKETED:
        return VerdictResult.PASSED
    if stop == rule.Stop.FAILED_AT_START:
        return VerdictResult.FAILED
    return VerdictResult.INCONCLUSIVE


def _step_check(step: CapacityStep) -> Check:
    verdict = "pass" if step.passed else f"FAIL ({step.limited_by})"
    return Check(
        name=f"step{step.index}",
        threshold=step.offered_tps,
        observed=step.achieved_tps,
        passed=step.passed,
        message=f"step {step.index} at {step.offered_tps:g} TPS: {verdict}: {step.message}",
    )


def _message(
    stop: rule.Stop | None,
    capacity: Capacity,
    good: float | None,
    bad: float | None,
    spec: EndpointLoadTestSpec,
) -> str:
    search = spec.search
    assert search is not None
    found = ""
    if capacity.max_tps is not None:
        found = (
            f"{capacity.max_tps:g} TPS within the SLO ({capacity.per_instance_tps:g} per "
            f"instance on {capacity.instances})"
        )
    limit = f"limited by {capacity.limited_by}: {capacity.limit_detail}"
    if stop == rule.Stop.BRACKETED:
        text = f"Passed: {found}; {limit}."
        advice = capacity.recommendation
        if advice is not None:
            text += (
                f" For {advice.target_tps:g} TPS at {advice.target_utilization:.0%} "
                f"utilization: {advice.instances} instance(s); autoscaling target "
                f"{advice.invocations_per_instance_target:g} invocations per instance per minute."
            )
        return text
    if stop == rule.Stop.FAILED_AT_START:
        return f"Failed: the first step, {search.start_tps:g} TPS, already breaks the SLO; {limit}."
    lower = f"; at least {found}" if found else ""
    if stop == rule.Stop.AT_LEAST:
        return (
            f"Inconclusive: at least {found}: the step at search.maxTPS {search.max_tps:g} met "
            "the SLO; raise search.maxTPS to find the limit."
        )
    if stop == rule.Stop.GENERATOR:
        return f"Inconclusive: the load generator was the limit ({capacity.limit_detail}){lower}."
    if stop == rule.Stop.INTERRUPTED:
        return f"Inconclusive: the search was stopped after {len(capacity.steps)} step(s){lower}."
    if stop == rule.Stop.MAX_STEPS:
        where = f"between {good:g} and {bad:g} TPS" if good and bad else "not bracketed"
        return (
            f"Inconclusive: search.maxSteps {search.max_steps} ran out with the knee {where}, "
            f"wider than search.precision {search.precision:g}{lower}."
        )
    if not capacity.steps:
        return "Inconclusive: no step was measured."
    after = (
        " (CloudWatch's limits, applied to each step after the search, failed a step the "
        "search had passed)"
        if any(s.limited_by == "cpu" for s in capacity.steps)
        else ""
    )
    return (
        f"Inconclusive: the steps measured put the knee between {good} and {bad} TPS, wider "
        f"than search.precision {search.precision:g}{after}{lower}."
    )


def step_windows(result: dict[str, Any], period: int) -> list[tuple[float, float]]:
    """The CloudWatch periods of each step's window (epoch seconds), for the runtime's reads.

    A window opens on a period boundary and lasts whole periods, give or take the
    milliseconds of opening and closing it: read exactly those periods, not the next one
    too (it holds the next step's warmup)."""
    steps = (result.get("search") or {}).get("steps") or []
    windows = []
    for step in steps:
        start, end = float(step["windowStart"]), float(step["windowEnd"])
        first = round(start / period) * period  # the boundary the window opened on
        periods = max(1, round((end - start) / period))
        windows.append((float(first), float(first + periods * period)))
    return windows


def evaluate_run(
    result: dict[str, Any],
    spec: EndpointLoadTestSpec,
    cloudwatch: CloudWatchResults | None = None,
    step_cloudwatch: list[CloudWatchResults | None] | None = None,
) -> tuple[Results, Verdict, Capacity | None]:
    """A finished run's results and verdict, and a search's capacity: for both runtimes.

    `cloudwatch`: the endpoint's figures over the whole window (the search's whole span);
    `step_cloudwatch`: a search's figures over each step's window, in step order."""
    if spec.search is None:
        results, verdict = evaluate(result, spec.thresholds, cloudwatch)
        return results, verdict, None
    results, verdict, capacity = assess(result, spec, step_cloudwatch)
    results.cloudwatch = cloudwatch
    return results, verdict, capacity
