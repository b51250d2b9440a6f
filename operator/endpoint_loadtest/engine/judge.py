"""Judge: the verdict from the measurement window's figures and the thresholds.

Inconclusive outranks Failed: when too few requests were made, a worker did not
report, or the load generator itself was saturated, a failing figure may be the
client's fault, not the endpoint's, so the run proves nothing either way.
"""

from __future__ import annotations

from endpoint_loadtest.api.models import (
    PERCENTILES,
    Check,
    Results,
    Thresholds,
    Verdict,
    VerdictResult,
)

GENERATOR_CPU_LIMIT_PERCENT = 90.0


def _check(name: str, threshold: float, observed: float | None, passed: bool, text: str) -> Check:
    return Check(name=name, threshold=threshold, observed=observed, passed=passed, message=text)


def threshold_checks(results: Results, thresholds: Thresholds) -> list[Check]:
    """One check per threshold the user set, in a stable order."""
    checks: list[Check] = []
    if thresholds.min_tps is not None:
        ok = results.tps >= thresholds.min_tps
        checks.append(
            _check(
                "minTPS",
                thresholds.min_tps,
                round(results.tps, 2),
                ok,
                f"TPS {results.tps:.1f} {'>=' if ok else '<'} {thresholds.min_tps:g}",
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
        seen = "no successful samples" if observed is None else f"{observed:g} ms"
        checks.append(
            _check(
                f"latencyMs.{key}",
                limit,
                observed,
                ok,
                f"{key} {seen} {'<=' if ok else '>'} {limit:g} ms",
            )
        )
    return checks


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
    if incomplete_workers:
        reasons.append(
            "worker(s) " + ", ".join(incomplete_workers) + " did not report their final statistics"
        )
    return checks, reasons


def judge(
    results: Results, thresholds: Thresholds, incomplete_workers: list[str] | None = None
) -> Verdict:
    checks = threshold_checks(results, thresholds)
    validity, reasons = inconclusive_reasons(results, thresholds, incomplete_workers or [])
    checks.extend(validity)
    failed = [c for c in checks if not c.passed and c.name not in ("minRequests", "generatorCpu")]
    if reasons:
        return Verdict(
            result=VerdictResult.INCONCLUSIVE,
            checks=checks,
            message="Inconclusive: " + "; ".join(reasons) + ".",
        )
    if failed:
        return Verdict(
            result=VerdictResult.FAILED,
            checks=checks,
            message="Failed: " + "; ".join(c.message for c in failed) + ".",
        )
    return Verdict(
        result=VerdictResult.PASSED,
        checks=checks,
        message=f"Passed: all {len(checks)} checks met.",
    )
