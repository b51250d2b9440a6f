"""Judge: the verdict from the measurement window's figures and the thresholds.

minTPS is judged on the successful requests per second (successTps), latency limits on
the successful requests' percentiles, and the error rate always (1% unless the spec
says otherwise): a run where every request failed never passes. A failing verdict
names the most frequent error types with the endpoint's own message for each.

Inconclusive outranks Failed: when too few requests were made, a worker did not
report, or the load generator itself was saturated, a failing figure may be the
client's fault, not the endpoint's, so the run proves nothing either way.
"""

from __future__ import annotations

from endpoint_loadtest.api.models import (
    PERCENTILES,
    Check,
    CloudWatchResults,
    CloudWatchThresholds,
    Results,
    Thresholds,
    Verdict,
    VerdictResult,
)
from endpoint_loadtest.engine.judge_streaming import streaming_checks
from endpoint_loadtest.loadgen.error_names import top_errors_text

GENERATOR_CPU_LIMIT_PERCENT = 90.0
# Open model: the share of intended requests the generator may fail to send on time.
SHORTFALL_LIMIT = 0.01
VALIDITY_CHECKS = ("minRequests", "generatorCpu", "generatorShortfall")


def _check(name: str, threshold: float, observed: float | None, passed: bool, text: str) -> Check:
    return Check(name=name, threshold=threshold, observed=observed, passed=passed, message=text)


def threshold_checks(results: Results, thresholds: Thresholds) -> list[Check]:
    """One check per threshold the user set, in a stable order."""
    checks: list[Check] = []
    if thresholds.min_tps is not None:
        ok = results.success_tps >= thresholds.min_tps
        checks.append(
            _check(
                "minTPS",
                thresholds.min_tps,
                round(results.success_tps, 2),
                ok,
                f"successful TPS {results.success_tps:.1f} {'>=' if ok else '<'} "
                f"{thresholds.min_tps:g}",
            )
        )
    if thresholds.max_error_rate is not None:
        ok = results.error_rate <= thresholds.max_error_rate
        checks.append(
            _check(
                "maxErrorRate",
                thresholds.max_error_rate,
                round(results.error_rate, 6),
                ok,
                f"error rate {results.error_rate:.2%} {'<=' if ok else '>'} "
                f"{thresholds.max_error_rate:.2%}",
            )
        )
    limits = thresholds.latency_ms
    for key in PERCENTILES:
        limit = getattr(limits, key) if limits else None
        if limit is None:
            continue
        observed = getattr(results.latency_ms, key)
        ok = observed is not None and observed <= limit
        text = (
            f"{key} not measured: no successful samples (limit {limit:g} ms)"
            if observed is None
            else f"{key} {observed:g} ms {'<=' if ok else '>'} {limit:g} ms"
        )
        checks.append(_check(f"latencyMs.{key}", limit, observed, ok, text))
    if thresholds.cloudwatch is not None and results.cloudwatch is not None:
        checks.extend(cloudwatch_checks(results.cloudwatch, thresholds.cloudwatch)[0])
    checks.extend(streaming_checks(results, thresholds))
    return checks


def cloudwatch_checks(
    figures: CloudWatchResults, limits: CloudWatchThresholds
) -> tuple[list[Check], list[str]]:
    """Checks of the endpoint's own CloudWatch figures, and the limits that could not be
    judged because CloudWatch did not return the figure (never a failure)."""
    checks: list[Check] = []
    unjudged: list[str] = []
    latency = (
        ("model_latency_ms", "modelLatencyMs", "ModelLatency"),
        ("overhead_latency_ms", "overheadLatencyMs", "OverheadLatency"),
    )
    for field, wire, label in latency:
        bounds = getattr(limits, field)
        for key in ("p50", "p90", "p99"):
            limit = getattr(bounds, key) if bounds else None
            if limit is None:
                continue
            name = f"cloudwatch.{wire}.{key}"
            observed = getattr(getattr(figures, field), key)
            if observed is None:
                unjudged.append(name)
                continue
            ok = observed <= limit
            checks.append(
                _check(
                    name,
                    limit,
                    observed,
                    ok,
                    f"{label} {key} {observed:g} ms {'<=' if ok else '>'} {limit:g} ms",
                )
            )
    if limits.max_5xx_rate is not None:
        rate = figures.error_5xx_rate
        if rate is None:
            unjudged.append("cloudwatch.max5xxRate")
        else:
            ok = rate <= limits.max_5xx_rate
            checks.append(
                _check(
                    "cloudwatch.max5xxRate",
                    limits.max_5xx_rate,
                    rate,
                    ok,
                    f"Invocation5XXErrors rate {rate:.2%} {'<=' if ok else '>'} "
                    f"{limits.max_5xx_rate:.2%}",
                )
            )
    if limits.max_cpu_utilization_percent is not None:
        cpu = figures.instance_cpu_percent
        if cpu is None:
            unjudged.append("cloudwatch.maxCpuUtilizationPercent")
        else:
            ok = cpu <= limits.max_cpu_utilization_percent
            checks.append(
                _check(
                    "cloudwatch.maxCpuUtilizationPercent",
                    limits.max_cpu_utilization_percent,
                    cpu,
                    ok,
                    f"hottest endpoint instance at {cpu:.0f}% CPU "
                    f"{'<=' if ok else '>'} {limits.max_cpu_utilization_percent:g}%",
                )
            )
    return checks, unjudged


def cloudwatch_notes(results: Results, thresholds: Thresholds) -> list[str]:
    """What the verdict's message should add about the endpoint's CloudWatch figures."""
    notes: list[str] = []
    figures = results.cloudwatch
    if thresholds.cloudwatch is not None:
        if figures is None:
            notes.append("CloudWatch checks not judged: no CloudWatch figures")
        else:
            unjudged = cloudwatch_checks(figures, thresholds.cloudwatch)[1]
            if unjudged:
                notes.append(
                    "not judged, CloudWatch did not return the figure: " + ", ".join(unjudged)
                )
    if figures is not None and figures.saturated:
        notes.append(
            f"the endpoint's hottest instance ran at {figures.instance_cpu_percent:.0f}% of its "
            "CPU (saturated: above 90%)"
        )
    return notes


def inconclusive_reasons(
    results: Results, thresholds: Thresholds, incomplete_workers: list[str]
) -> tuple[list[Check], list[str]]:
    """Checks of the run's own validity, and the reasons it proves nothing."""
    checks: list[Check] = []
    reasons: list[str] = []
    enough = results.requests >= thresholds.min_requests
    checks.append(
        _check(
            "minRequests",
            thresholds.min_requests,
            results.requests,
            enough,
            f"{results.requests} requests in the window "
            f"{'>=' if enough else '<'} {thresholds.min_requests}",
        )
    )
    if not enough:
        reasons.append(
            f"only {results.requests} requests were measured, fewer than "
            f"minRequests {thresholds.min_requests}"
        )
    cpu = results.max_worker_cpu_percent
    if cpu is not None:
        cool = cpu <= GENERATOR_CPU_LIMIT_PERCENT
        checks.append(
            _check(
                "generatorCpu",
                GENERATOR_CPU_LIMIT_PERCENT,
                cpu,
                cool,
                f"busiest load-generator worker at {cpu:.0f}% CPU "
                f"{'<=' if cool else '>'} {GENERATOR_CPU_LIMIT_PERCENT:.0f}%",
            )
        )
        if not cool:
            reasons.append(
                f"a load-generator worker reached {cpu:.0f}% CPU (above "
                f"{GENERATOR_CPU_LIMIT_PERCENT:.0f}%): the client, not the endpoint, may be "
                "the bottleneck; add workers"
            )
    if results.intended_requests:
        short = results.shortfall or 0
        share = short / results.intended_requests
        kept_up = share <= SHORTFALL_LIMIT
        checks.append(
            _check(
                "generatorShortfall",
                SHORTFALL_LIMIT,
                round(share, 6),
                kept_up,
                f"{short} of {results.intended_requests} intended requests not sent on time "
                f"{'<=' if kept_up else '>'} {SHORTFALL_LIMIT:.0%}",
            )
        )
        if not kept_up:
            reasons.append(
                f"the generator fell behind: {short} of {results.intended_requests} intended "
                "requests were not sent on time; add workers"
            )
    if incomplete_workers:
        reasons.append(
            "worker(s) " + ", ".join(incomplete_workers) + " did not report their final statistics"
        )
    return checks, reasons


def judge(
    results: Results, thresholds: Thresholds, incomplete_workers: list[str] | None = None
) -> Verdict:
    verdict = _judge(results, thresholds, incomplete_workers)
    notes = cloudwatch_notes(results, thresholds)
    if notes:
        verdict.message = verdict.message.rstrip(".") + " (" + "; ".join(notes) + ")."
    return verdict


def _judge(
    results: Results, thresholds: Thresholds, incomplete_workers: list[str] | None = None
) -> Verdict:
    checks = threshold_checks(results, thresholds)
    validity, reasons = inconclusive_reasons(results, thresholds, incomplete_workers or [])
    checks.extend(validity)
    failed = [c for c in checks if not c.passed and c.name not in VALIDITY_CHECKS]
    errors = top_errors_text(results.errors_by_type, results.error_samples)
    why = f". Top errors: {errors}" if errors else ""
    if reasons:
        return Verdict(
            result=VerdictResult.INCONCLUSIVE,
            checks=checks,
            message="Inconclusive: " + "; ".join(reasons) + why + ".",
        )
    if failed:
        return Verdict(
            result=VerdictResult.FAILED,
            checks=checks,
            message="Failed: " + "; ".join(c.message for c in failed) + why + ".",
        )
    return Verdict(
        result=VerdictResult.PASSED,
        checks=checks,
        message=f"Passed: all {len(checks)} checks met.",
    )
