"""Verdicts that use CloudWatch: checks, what is not judged, saturation, the API rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from endpoint_loadtest.api.models import (
    CloudWatchResults,
    EndpointLoadTestSpec,
    Thresholds,
)
from endpoint_loadtest.engine.judge import judge
from endpoint_loadtest.engine.status import completed_status, evaluate
from endpoint_loadtest.observability import cloudwatch as cw

WINDOW = {
    "requests": 1000,
    "failures": 0,
    "windowSeconds": 10.0,
    "latencyMs": {"p50": 20, "p90": 30, "p95": 35, "p99": 50},
}
LIMITS = {
    "minRequests": 100,
    "cloudwatch": {
        "modelLatencyMs": {"p50": 25, "p99": 60},
        "overheadLatencyMs": {"p99": 5},
        "max5xxRate": 0.01,
        "maxCpuUtilizationPercent": 70,
    },
}


def figures(**overrides) -> CloudWatchResults:
    base = {
        "endpoint_name": "ep",
        "variant_name": "AllTraffic",
        "start": datetime(2026, 1, 1, tzinfo=UTC),
        "end": datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
        "period_seconds": 60,
        "model_latency_ms": {"average": 19, "p50": 18, "p90": 30, "p99": 45},
        "overhead_latency_ms": {"average": 2, "p50": 2, "p90": 2, "p99": 2.5},
        "invocations": 1000,
        "invocation_5xx_errors": 2,
        "error_5xx_rate": 0.002,
        "cpu_utilization_percent": 260,
        "instance_cpu_percent": 65,
        "saturated": False,
    }
    return CloudWatchResults.model_validate(base | overrides)


def thresholds() -> Thresholds:
    return Thresholds.model_validate(LIMITS)


def test_cloudwatch_checks_are_listed_like_the_locust_checks():
    results, verdict = evaluate(WINDOW, thresholds(), figures())
    assert results.cloudwatch is not None
    names = [c.name for c in verdict.checks]
    assert names[:6] == [
        "maxErrorRate",  # always judged: 1% by default
        "cloudwatch.modelLatencyMs.p50",
        "cloudwatch.modelLatencyMs.p99",
        "cloudwatch.overheadLatencyMs.p99",
        "cloudwatch.max5xxRate",
        "cloudwatch.maxCpuUtilizationPercent",
    ]
    assert verdict.result == "Passed", verdict.message
    cpu = next(c for c in verdict.checks if c.name.endswith("CpuUtilizationPercent"))
    assert (cpu.threshold, cpu.observed, cpu.passed) == (70, 65, True)


@pytest.mark.parametrize(
    ("override", "failing"),
    [
        ({"model_latency_ms": {"p50": 30, "p99": 45}}, "cloudwatch.modelLatencyMs.p50"),
        ({"overhead_latency_ms": {"p99": 9}}, "cloudwatch.overheadLatencyMs.p99"),
        ({"error_5xx_rate": 0.05}, "cloudwatch.max5xxRate"),
        ({"instance_cpu_percent": 85}, "cloudwatch.maxCpuUtilizationPercent"),
    ],
)
def test_a_cloudwatch_limit_fails_the_test(override, failing):
    _, verdict = evaluate(WINDOW, thresholds(), figures(**override))
    assert verdict.result == "Failed"
    assert [c.name for c in verdict.checks if not c.passed] == [failing]


def test_without_cloudwatch_figures_the_verdict_rests_on_locust():
    _, verdict = evaluate(WINDOW, thresholds(), None)
    assert verdict.result == "Passed"
    assert not [c for c in verdict.checks if c.name.startswith("cloudwatch.")]
    assert "CloudWatch checks not judged" in verdict.message


def test_a_figure_cloudwatch_did_not_return_is_not_judged():
    partial = figures(model_latency_ms={"average": 19})  # percentiles missing
    _, verdict = evaluate(WINDOW, thresholds(), partial)
    assert verdict.result == "Passed"
    assert "cloudwatch.modelLatencyMs.p99" not in [c.name for c in verdict.checks]
    assert "not judged" in verdict.message and "modelLatencyMs.p99" in verdict.message


def test_a_saturated_instance_is_flagged():
    hot = figures(instance_cpu_percent=95, saturated=True)
    verdict = judge(evaluate(WINDOW, Thresholds(), hot)[0], Thresholds())
    assert verdict.result == "Passed"  # no ceiling was asked for: a flag, not a failure
    assert "saturated" in verdict.message and "95%" in verdict.message


def test_judge_keeps_its_signature():
    results, _ = evaluate(WINDOW, Thresholds())
    assert judge(results, Thresholds(), []).result == "Passed"
    assert judge(results, Thresholds()).result == "Passed"


def test_completed_status_carries_the_condition_and_the_figures():
    scrape = cw.Scrape(figures())
    results, verdict = evaluate(WINDOW, thresholds(), scrape.figures)
    status = completed_status(
        run_id="r", started_at=None, results=results, verdict=verdict,
        conditions=[scrape.condition()],
    )  # fmt: skip
    wire = status.to_wire()
    assert [c["type"] for c in wire["conditions"]] == ["Completed", "Passed", "CloudWatchAvailable"]
    assert wire["results"]["cloudwatch"]["invocation5XXErrors"] == 2
    assert wire["results"]["cloudwatch"]["modelLatencyMs"]["p99"] == 45


def spec(**extra):
    return {
        "target": {"sagemaker": {"endpointName": "ep", "region": "us-east-1"}},
        "payload": {"body": "{}"},
        "load": {"users": 1, "duration": "10s"},
        **extra,
    }


def test_api_rules_for_cloudwatch_thresholds():
    with pytest.raises(ValidationError, match=r"needs cloudwatch\.enabled"):
        EndpointLoadTestSpec.model_validate(spec(thresholds=LIMITS))
    with pytest.raises(ValidationError, match=r"needs cloudwatch\.instanceVcpus"):
        EndpointLoadTestSpec.model_validate(spec(thresholds=LIMITS, cloudwatch={"enabled": True}))
    ok = EndpointLoadTestSpec.model_validate(
        spec(
            thresholds=LIMITS,
            cloudwatch={"enabled": True, "instanceVcpus": 4, "lastPeriodTimeout": "90s"},
        )
    )
    assert ok.cloudwatch.last_period_timeout_seconds == 90
    assert ok.to_wire()["thresholds"]["cloudwatch"]["max5xxRate"] == 0.01
    with pytest.raises(ValidationError):
        Thresholds.model_validate({"cloudwatch": {"maxCpuUtilizationPercent": 150}})


def test_the_crd_carries_the_rules():
    from pathlib import Path

    import yaml

    crd = yaml.safe_load(
        (Path(__file__).parents[2] / "crds" / "endpointloadtests.perf.elt.dev.yaml").read_text()
    )
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rules = [r["message"] for r in schema["x-kubernetes-validations"]]
    assert "thresholds.cloudwatch needs cloudwatch.enabled: true" in rules
    cloudwatch = schema["properties"]["thresholds"]["properties"]["cloudwatch"]["properties"]
    assert {"modelLatencyMs", "overheadLatencyMs", "max5xxRate", "maxCpuUtilizationPercent"} <= set(
        cloudwatch
    )
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert "cloudwatch" in status["properties"]["results"]["properties"]
