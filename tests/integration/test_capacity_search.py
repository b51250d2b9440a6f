"""Capacity search through the real `elt run` (master, worker, live rate changes) against
the simulator, whose capacity is known: instances x vCPUs / mean service time.

The simulator serves a constant 160 ms on 4 vCPUs per instance (25 requests/s each) with
a queue of 8 per instance: an arrival rate above capacity fills the queue within the
step's warmup and is turned away (503), which the error-rate SLO sees, while a stall of
the shared machine (a burst of late requests) fits in the queue. Rates stay within what
one worker process sends on a shared 2-core machine (at most 2x capacity).
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from eltrun import EltRun, elt_command, elt_env, sagemaker_target

pytestmark = pytest.mark.slow

SEARCH_TIMEOUT_S = 400
PER_INSTANCE = 25.0  # 4 vCPUs x 1000 / 160 ms
SERVICE = ("--vcpus", "4", "--service-time-ms", "160", "--distribution", "constant")


def search_document(search: dict[str, Any], thresholds: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "perf.elt.dev/v1alpha1",
        "kind": "EndpointLoadTest",
        "metadata": {"name": "capacity"},
        "spec": {
            "target": sagemaker_target(),
            "payload": {"body": '{"inputs": "I am super happy right now."}'},
            "search": {"stepWarmup": "8s", "stepDuration": "8s", "maxSteps": 8, **search},
            "load": {"workers": 1},
            "thresholds": thresholds,
        },
    }


def run_search(tmp_path: Path, doc: dict[str, Any], env: dict[str, str], name: str) -> EltRun:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    output = tmp_path / name
    proc = subprocess.run(
        elt_command(path, output),
        capture_output=True,
        text=True,
        env=elt_env(env),
        timeout=SEARCH_TIMEOUT_S,
    )
    return EltRun(proc.returncode, proc.stdout, proc.stderr, output)


def show(label: str, capacity: dict[str, Any]) -> None:
    print(f"\n[{label}] maxTPS {capacity['maxTPS']} limitedBy {capacity['limitedBy']}")
    for step in capacity["steps"]:
        print(
            f"  step {step['index']}: {step['offeredTPS']} -> {step['achievedTPS']} "
            f"p99 {step['p99Ms']} errors {step['errorRate']} {step['passed']} "
            f"{step['limitedBy']}"
        )


def test_finds_the_capacity_of_one_and_three_instances(simulator, tmp_path: Path) -> None:
    found = {}
    for instances in (1, 3):
        truth = instances * PER_INSTANCE
        sim = simulator("--instances", str(instances), *SERVICE, "--queue-depth", "8")
        # sized by the truth for 3 (7) instances at 65%, and by any perInstanceTPS within
        # 10% below it the same way
        target = 33.5 * instances
        search = {"startTPS": 0.7 * truth, "maxTPS": 4 * truth, "instances": instances}
        doc = search_document({**search, "targetTPS": target}, {"maxErrorRate": 0.01})
        run = run_search(tmp_path, doc, sim.env(), f"search-{instances}")
        status = run.status
        capacity = status["capacity"]
        show(f"{instances} instance(s), capacity {truth:g}", capacity)
        assert status["verdict"]["result"] == "Passed", run.explain()
        assert run.returncode == 0
        max_tps = capacity["maxTPS"]
        window = capacity["steps"][0]
        seconds = 8.0
        # within 10% of the truth, and never above it beyond what a window can hold above
        # its rate: the 1% of errors the SLO accepts, one request at the window's edge, and
        # sends a stalled generator made late into the window (0.5% seen here)
        assert 0.9 * truth <= max_tps <= truth * 1.015 + 1 / seconds, capacity
        assert capacity["perInstanceTPS"] == pytest.approx(max_tps / instances, abs=0.001)
        assert capacity["limitedBy"] == "errors"
        assert "ServiceUnavailable" in capacity["limitDetail"]
        assert not capacity["atLeast"] and capacity["instances"] == instances
        truth_instances = math.ceil(target / (PER_INSTANCE * 0.65))
        advice = capacity["recommendation"]
        assert advice["instances"] == truth_instances == {1: 3, 3: 7}[instances]
        assert advice["invocationsPerInstanceTarget"] == pytest.approx(
            capacity["perInstanceTPS"] * 0.5 * 60, abs=0.1
        )
        policy = advice["scalingPolicy"]
        assert policy["PredefinedMetricSpecification"] == {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        }
        assert policy["TargetValue"] == advice["invocationsPerInstanceTarget"]
        # one check per step, and the figures are the master's exact windows
        checks = status["verdict"]["checks"]
        assert [c["name"] for c in checks] == [f"step{s['index']}" for s in capacity["steps"]]
        assert window["windowStart"] < window["windowEnd"]
        assert status["results"]["successTps"] == max_tps
        served = sim.stats()["endpoints"][sim.endpoint]
        assert status["results"]["totalRequests"] == served["requests"]
        found[instances] = capacity["perInstanceTPS"]
    assert found[1] == pytest.approx(found[3], rel=0.1)


def test_a_tight_p99_stops_below_capacity_and_says_latency(simulator, tmp_path: Path) -> None:
    # lognormal 40 ms median, 120 ms p99 on 4 vCPUs: mean 44.7 ms, capacity 89.5/s; the
    # p99 rises well before the queue turns requests away
    sim = simulator(
        "--instances", "1", "--vcpus", "4", "--service-time-ms", "40",
        "--service-time-p99-ms", "120", "--distribution", "lognormal", "--seed", "7",
    )  # fmt: skip
    capacity_truth = 4 * 1000 / (40 * math.exp((math.log(3) / 2.3263478740408408) ** 2 / 2))
    doc = search_document(
        {"startTPS": 60, "maxTPS": 200, "stepWarmup": "4s"},
        {"maxErrorRate": 0.01, "latencyMs": {"p99": 160}},
    )
    run = run_search(tmp_path, doc, sim.env(), "latency")
    capacity = run.status["capacity"]
    show(f"tight p99, capacity {capacity_truth:.1f}", capacity)
    assert capacity["limitedBy"] == "latency", run.explain()
    assert capacity["limitDetail"].startswith("p99 ")
    assert capacity["maxTPS"] is None or capacity["maxTPS"] < 0.97 * capacity_truth


def test_a_throttled_endpoint_says_errors(simulator, tmp_path: Path) -> None:
    # capacity 50/s (8 vCPUs x 160 ms), the account's limit 15/s: the limit is the errors
    sim = simulator(
        "--instances", "1", "--vcpus", "8", "--service-time-ms", "160",
        "--distribution", "constant", "--throttle-rps", "15",
    )  # fmt: skip
    search = {"startTPS": 10, "maxTPS": 200, "maxSteps": 3, "stepWarmup": "4s"}
    doc = search_document(search, {"maxErrorRate": 0.01, "minRequests": 50})
    run = run_search(tmp_path, doc, sim.env(), "throttled")
    capacity = run.status["capacity"]
    show("throttled at 15/s, capacity 50", capacity)
    assert capacity["limitedBy"] == "errors", run.explain()
    assert "ThrottlingException" in capacity["limitDetail"]
    failed = [s for s in capacity["steps"] if not s["passed"]]
    assert failed and all("ThrottlingException" in s["errorsByType"] for s in failed)
    assert capacity["maxTPS"] is not None and capacity["maxTPS"] < 16
