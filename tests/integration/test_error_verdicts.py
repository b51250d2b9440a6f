"""Real `elt run` against the simulator when the endpoint fails: the verdict must not
pass, must say why in the endpoint's own words, and the figures must split answers from
errors, with counts equal to what the simulator served."""

from __future__ import annotations

import pytest
from eltrun import document, sagemaker_target

pytestmark = pytest.mark.slow


def test_every_request_failing_never_passes_and_says_why(simulator, elt_run) -> None:
    # An endpoint name the simulator does not serve: every call is 400 ValidationError
    # "Endpoint ... not found.". No maxErrorRate in the spec: the 1% default applies.
    sim = simulator("--instances", "1", "--vcpus", "4", "--service-time-ms", "10")
    load = {"users": 2, "spawnRate": 100, "workers": 2, "duration": "3s"}
    thresholds = {"minTPS": 50, "latencyMs": {"p99": 100}, "minRequests": 10}
    run = elt_run(document(sagemaker_target("no-such-endpoint"), load, thresholds), sim.env())
    assert run.returncode == 1, run.explain()
    status, results = run.status, run.results
    served = sim.stats()["totals"]
    assert results["totalRequests"] == served["unknown_endpoint_requests"] == served["requests"]
    assert served["successes"] == 0
    assert results["failures"] == results["requests"] > 0
    assert results["errorsByType"] == {"ValidationError": results["requests"]}
    assert results["tps"] > 0 and results["successTps"] == 0
    assert results["latencyMs"].get("p99") is None  # no answers, no answer latency
    assert results["failureLatencyMs"]["p99"] > 0
    sample = results["errorSamples"]["ValidationError"]
    assert "Endpoint no-such-endpoint of account" in sample and "not found" in sample
    verdict = status["verdict"]
    assert verdict["result"] == "Failed"
    failed = {c["name"] for c in verdict["checks"] if not c["passed"]}
    assert failed == {"minTPS", "maxErrorRate", "latencyMs.p99"}
    assert f"ValidationError x{results['requests']}" in verdict["message"]
    assert sample in verdict["message"]
    # elt run's table names the error and its sample too
    assert "Verdict: Failed" in run.stdout and "Endpoint no-such-endpoint" in run.stdout


def test_failed_calls_do_not_flatter_the_percentiles(simulator, elt_run) -> None:
    # Injected ValidationErrors answer after the 2 ms overhead; answers take 40 ms more.
    sim = simulator(
        "--instances",
        "1",
        "--vcpus",
        "8",
        "--service-time-ms",
        "40",
        "--distribution",
        "constant",
        "--overhead-ms",
        "2",
        "--seed",
        "3",
        "--error-rate",
        "ValidationError=0.4",
    )
    load = {"users": 4, "spawnRate": 100, "workers": 2, "warmup": "1s", "duration": "4s"}
    thresholds = {"minRequests": 50, "maxErrorRate": 1}
    run = elt_run(document(sagemaker_target(), load, thresholds), sim.env())
    assert run.returncode == 0, run.explain()  # the spec loosened maxErrorRate
    results = run.results
    served = sim.stats()["endpoints"][sim.endpoint]
    assert results["totalRequests"] == served["requests"]
    assert served["by_error"]["ValidationError"] >= results["failures"] > 0
    successes = results["requests"] - results["failures"]
    assert results["successTps"] == pytest.approx(successes / results["windowSeconds"], rel=1e-3)
    assert results["successTps"] < results["tps"]
    # every answer took the service time: mixing in the 2 ms errors would pull p50 down
    assert results["latencyMs"]["p50"] >= 42, results["latencyMs"]
    assert results["failureLatencyMs"]["p99"] < 40, results["failureLatencyMs"]
    assert results["failureLatencyMs"]["max"] < results["latencyMs"]["p50"]
    assert "Inspect your request" in results["errorSamples"]["ValidationError"]
