"""The verdict: each check, Inconclusive's precedence, generator CPU, minRequests."""

from __future__ import annotations

from typing import Any

import pytest

from endpoint_loadtest.api.models import LatencySummary, Results, Thresholds, VerdictResult
from endpoint_loadtest.engine.judge import GENERATOR_CPU_LIMIT_PERCENT, judge
from endpoint_loadtest.engine.results import results_from_window
from endpoint_loadtest.engine.status import completed_status, error_status, evaluate

PASSED, FAILED, INCONCLUSIVE = (
    VerdictResult.PASSED,
    VerdictResult.FAILED,
    VerdictResult.INCONCLUSIVE,
)


def results(**changes: Any) -> Results:
    base: dict[str, Any] = {
        "requests": 1000,
        "failures": 5,
        "tps": 100.0,
        "success_tps": 99.5,
        "error_rate": 0.005,
        "latency_ms": LatencySummary(p50=20, p90=30, p95=40, p99=80),
        "window_seconds": 10.0,
        "max_worker_cpu_percent": 30.0,
    }
    base.update(changes)
    return Results(**base)


def thresholds(**changes: Any) -> Thresholds:
    base: dict[str, Any] = {
        "min_tps": 90,
        "max_error_rate": 0.01,
        "latency_ms": {"p50": 25, "p99": 100},
        "min_requests": 500,
    }
    base.update(changes)
    return Thresholds(**base)


def checks_by_name(verdict) -> dict[str, Any]:
    return {c.name: c for c in verdict.checks}


def test_all_met_passes() -> None:
    verdict = judge(results(), thresholds())
    assert verdict.result == PASSED
    assert list(checks_by_name(verdict)) == [
        "minTPS",
        "maxErrorRate",
        "latencyMs.p50",
        "latencyMs.p99",
        "minRequests",
        "generatorCpu",
    ]
    assert all(c.passed for c in verdict.checks)
    assert verdict.message == "Passed: all 6 checks met."


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"success_tps": 89.9}, "minTPS"),
        ({"error_rate": 0.0101}, "maxErrorRate"),
        ({"latency_ms": LatencySummary(p50=26, p99=80)}, "latencyMs.p50"),
        ({"latency_ms": LatencySummary(p50=20, p99=100.5)}, "latencyMs.p99"),
        ({"latency_ms": LatencySummary()}, "latencyMs.p50"),  # no successful samples
    ],
)
def test_each_threshold_fails_alone(change: dict[str, Any], failing: str) -> None:
    verdict = judge(results(**change), thresholds())
    assert verdict.result == FAILED
    failed = [c.name for c in verdict.checks if not c.passed]
    assert failing in failed
    assert verdict.message.startswith("Failed: ")
    assert checks_by_name(verdict)[failing].message in verdict.message


def test_boundaries_are_inclusive() -> None:
    verdict = judge(
        results(success_tps=90, error_rate=0.01, latency_ms=LatencySummary(p50=25, p99=100)),
        thresholds(),
    )
    assert verdict.result == PASSED


def test_missing_latency_is_a_failure_with_words() -> None:
    verdict = judge(results(latency_ms=LatencySummary()), thresholds())
    check = checks_by_name(verdict)["latencyMs.p99"]
    assert not check.passed and check.observed is None
    assert "no successful samples" in check.message


def test_only_set_thresholds_are_checked() -> None:
    verdict = judge(results(), Thresholds(min_requests=10))
    # maxErrorRate is always judged (1% unless the spec says otherwise)
    assert [c.name for c in verdict.checks] == ["maxErrorRate", "minRequests", "generatorCpu"]
    assert verdict.result == PASSED


def test_too_few_requests_is_inconclusive() -> None:
    verdict = judge(results(requests=499), thresholds())
    assert verdict.result == INCONCLUSIVE
    check = checks_by_name(verdict)["minRequests"]
    assert not check.passed and check.observed == 499 and check.threshold == 500
    assert "fewer than minRequests 500" in verdict.message
    assert judge(results(requests=500), thresholds()).result == PASSED


def test_zero_requests_with_zero_minimum_is_judged() -> None:
    empty = results(requests=0, failures=0, tps=0, error_rate=0, latency_ms=LatencySummary())
    assert judge(empty, Thresholds(min_requests=0)).result == PASSED
    assert judge(empty, Thresholds()).result == INCONCLUSIVE


def test_saturated_generator_is_inconclusive() -> None:
    hot = GENERATOR_CPU_LIMIT_PERCENT + 0.5
    verdict = judge(results(max_worker_cpu_percent=hot), thresholds())
    assert verdict.result == INCONCLUSIVE
    check = checks_by_name(verdict)["generatorCpu"]
    assert not check.passed and check.observed == hot
    assert "add workers" in verdict.message
    at_limit = judge(results(max_worker_cpu_percent=GENERATOR_CPU_LIMIT_PERCENT), thresholds())
    assert at_limit.result == PASSED


def test_unknown_cpu_adds_no_check() -> None:
    verdict = judge(results(max_worker_cpu_percent=None), thresholds())
    assert "generatorCpu" not in checks_by_name(verdict)
    assert verdict.result == PASSED


def test_inconclusive_outranks_failed() -> None:
    bad = results(requests=10, tps=1, success_tps=0.1, error_rate=0.9, max_worker_cpu_percent=99)
    verdict = judge(bad, thresholds())
    assert verdict.result == INCONCLUSIVE
    assert "minRequests" in verdict.message and "CPU" in verdict.message
    # the failing thresholds stay visible in the checks
    assert not checks_by_name(verdict)["minTPS"].passed


def test_incomplete_workers_make_it_inconclusive() -> None:
    verdict = judge(results(), thresholds(), ["worker-b", "worker-a"])
    assert verdict.result == INCONCLUSIVE
    assert "worker-b, worker-a did not report" in verdict.message


def window(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "requests": 1000,
        "failures": 10,
        "latencyMs": {
            "p50": 20.0,
            "p90": 30.0,
            "p95": 40.0,
            "p99": 50.0,
            "mean": 21.0,
            "max": 90.0,
        },
        "errorsByType": {"ModelError": 6, "ServiceUnavailable": 4},
        "errorsByStatus": {"4xx": 6, "5xx": 4},
        "requestsByPhase": {"warmup": 200, "measure": 1000, "done": 0},
        "totalRequests": 1200,
        "windowSeconds": 10.0,
        "maxWorkerCpuPercent": 42.0,
        "incompleteWorkers": [],
        "interrupted": False,
    }
    base.update(changes)
    return base


def test_results_from_window() -> None:
    res = results_from_window(window())
    assert (res.requests, res.failures, res.total_requests) == (1000, 10, 1200)
    assert res.tps == 100.0 and res.error_rate == 0.01
    assert res.errors_by_status == {"4xx": 6, "5xx": 4}
    assert res.max_worker_cpu_percent == 42.0
    assert res.latency_ms.p99 == 50.0
    empty = results_from_window(window(requests=0, failures=0, windowSeconds=0))
    assert empty.tps == 0.0 and empty.error_rate == 0.0


def test_evaluate_interrupted_is_inconclusive() -> None:
    _, verdict = evaluate(window(interrupted=True, windowSeconds=4.2), Thresholds(min_requests=1))
    assert verdict.result == INCONCLUSIVE
    assert "stopped before the end" in verdict.message and "4s measured" in verdict.message
    _, verdict = evaluate(window(), Thresholds(min_requests=1))
    assert verdict.result == PASSED


def test_completed_and_error_status_conditions() -> None:
    res, verdict = evaluate(window(), Thresholds(max_error_rate=0.001))
    status = completed_status(run_id="r", started_at=None, results=res, verdict=verdict)
    wire = status.to_wire()
    assert wire["phase"] == "Completed" and wire["verdict"]["result"] == "Failed"
    conditions = {c["type"]: c for c in wire["conditions"]}
    assert conditions["Completed"]["status"] == "True"
    assert conditions["Passed"]["status"] == "False"
    assert conditions["Passed"]["reason"] == "Failed"
    error = error_status(run_id="r", started_at=None, message="boom").to_wire()
    assert error["phase"] == "Error" and "verdict" not in error
    assert {c["type"]: c["status"] for c in error["conditions"]} == {
        "Completed": "True",
        "Passed": "False",
    }


def test_verdict_table_shows_latencies_as_measured() -> None:
    import io

    from endpoint_loadtest.api.models import EndpointLoadTestStatus
    from endpoint_loadtest.local.progress import render_verdict

    measured = results(latency_ms=LatencySummary(p50=20.7, p90=31.25, p95=140.0, p99=0.523))
    verdict = judge(measured, thresholds())
    out = io.StringIO()
    render_verdict(EndpointLoadTestStatus(verdict=verdict, results=measured), out)
    text = out.getvalue()
    assert "p50 20.7 ms, p90 31.2 ms, p95 140 ms, p99 0.52 ms" in text, text


def all_failed(**changes: Any) -> Results:
    """The run of a 400 ValidationError endpoint: fast, many, every one failed."""
    base: dict[str, Any] = {
        "requests": 41378,
        "failures": 41378,
        "tps": 4137.8,
        "success_tps": 0.0,
        "error_rate": 1.0,
        "latency_ms": LatencySummary(),
        "failure_latency_ms": LatencySummary(p50=1.2, p99=3.4),
        "errors_by_type": {"ValidationError": 41378},
        "error_samples": {"ValidationError": "Endpoint nope of account 123456789012 not found."},
        "window_seconds": 10.0,
        "max_worker_cpu_percent": 50.0,
    }
    base.update(changes)
    return Results(**base)


def test_every_request_failed_never_passes() -> None:
    # the spec of the report: minTPS 50 and p99 100 ms, no maxErrorRate
    spec = Thresholds.model_validate({"minTPS": 50, "latencyMs": {"p99": 100}})
    assert spec.max_error_rate == 0.01  # the default
    verdict = judge(all_failed(), spec)
    assert verdict.result == FAILED
    checks = checks_by_name(verdict)
    assert not checks["minTPS"].passed and checks["minTPS"].observed == 0.0
    assert not checks["maxErrorRate"].passed
    assert not checks["latencyMs.p99"].passed  # no successful samples, not the errors' 3.4 ms
    assert "successful TPS 0.0 < 50" in verdict.message


def test_failing_verdict_names_the_top_errors_with_their_sample() -> None:
    verdict = judge(all_failed(), Thresholds(min_requests=10))
    assert verdict.message == (
        "Failed: error rate 100.00% > 1.00%. Top errors: ValidationError x41378 "
        '("Endpoint nope of account 123456789012 not found.").'
    )
    many = {f"E{i}": 100 - i for i in range(6)}
    verdict = judge(
        all_failed(errors_by_type=many, error_samples={"E1": "one"}), Thresholds(min_requests=10)
    )
    assert verdict.message.endswith('Top errors: E0 x100, E1 x99 ("one"), E2 x98.')


def test_min_tps_counts_answers_not_requests() -> None:
    half = results(tps=100.0, success_tps=50.0, failures=500, error_rate=0.5)
    verdict = judge(half, thresholds(max_error_rate=1))
    assert verdict.result == FAILED
    assert checks_by_name(verdict)["minTPS"].observed == 50.0


def test_default_error_rate_can_be_loosened() -> None:
    flaky = results(failures=50, error_rate=0.05, success_tps=95.0)
    assert judge(flaky, Thresholds(min_requests=10)).result == FAILED
    loose = Thresholds.model_validate({"maxErrorRate": 0.1, "minRequests": 10})
    assert judge(flaky, loose).result == PASSED


def test_results_split_success_and_failure_figures() -> None:
    res = results_from_window(
        window(
            failureLatencyMs={"p50": 1.0, "p99": 2.0},
            errorSamples={"ModelError": "Received client error (400)"},
        )
    )
    assert res.tps == 100.0 and res.success_tps == 99.0
    assert res.failure_latency_ms is not None and res.failure_latency_ms.p99 == 2.0
    assert res.error_samples == {"ModelError": "Received client error (400)"}
    clean = results_from_window(window(failures=0, failureLatencyMs={"p50": None}))
    assert clean.success_tps == clean.tps and clean.failure_latency_ms is None


def test_verdict_table_shows_errors_with_samples() -> None:
    import io

    from endpoint_loadtest.api.models import EndpointLoadTestStatus
    from endpoint_loadtest.local.progress import render_verdict

    failed = all_failed(error_samples={"ValidationError": "bad [request] body"})
    verdict = judge(failed, Thresholds(min_requests=10))
    out = io.StringIO()
    render_verdict(EndpointLoadTestStatus(verdict=verdict, results=failed), out)
    text = out.getvalue()
    assert "4137.8 TPS, 0.0 successful TPS, 41378 failed (100.00%)" in text, text
    assert "failed calls: p50 1.20 ms, p99 3.40 ms" in text, text
    assert "ValidationError" in text and "bad [request] body" in text, text  # no markup eaten


def test_inconclusive_with_errors_names_them_too() -> None:
    refused = all_failed(
        max_worker_cpu_percent=99.0,
        errors_by_type={"ConnectionError": 41378},
        error_samples={"ConnectionError": "Could not connect to the endpoint URL"},
    )
    verdict = judge(refused, Thresholds(min_requests=10))
    assert verdict.result == INCONCLUSIVE
    assert verdict.message.endswith(
        'Top errors: ConnectionError x41378 ("Could not connect to the endpoint URL").'
    )
    assert judge(results(failures=0, errors_by_type={}), thresholds()).message == (
        "Passed: all 6 checks met."
    )
