"""Open model (load.targetTPS): real `elt run` (master + workers) against the simulator.

Short windows and small rates: the machine's 2 cores are shared by the simulator, the
Locust master, the workers and other engineers.
"""

from __future__ import annotations

import pytest
from eltrun import document, sagemaker_target

pytestmark = pytest.mark.slow


def show(label: str, results: dict) -> None:
    keys = ("requests", "intendedRequests", "shortfall", "tps", "windowSeconds", "totalRequests")
    figures = {k: results.get(k) for k in keys}
    figures["latencyMs"] = {k: results["latencyMs"].get(k) for k in ("p50", "p99")}
    service = results.get("serviceLatencyMs") or {}
    figures["serviceLatencyMs"] = {k: service.get(k) for k in ("p50", "p99")}
    print(f"\n[{label}] {figures}")


def test_target_rate_is_met_against_a_fast_endpoint(simulator, elt_run) -> None:
    sim = simulator(
        "--instances", "1", "--vcpus", "16", "--service-time-ms", "10",
        "--distribution", "constant", "--overhead-ms", "1",
    )  # fmt: skip
    load = {"targetTPS": 100, "workers": 2, "warmup": "1s", "duration": "5s"}
    run = elt_run(document(sagemaker_target(), load, {"minRequests": 100}), sim.env())
    assert run.returncode == 0, run.explain()
    results = run.results
    show("open 100/s", results)
    served = sim.stats()["endpoints"][sim.endpoint]
    assert results["totalRequests"] == served["requests"] == served["successes"]
    assert results["tps"] == pytest.approx(100, rel=0.04)
    assert results["intendedRequests"] == pytest.approx(results["requests"], abs=2)
    assert results["shortfall"] == 0
    service, latency = results["serviceLatencyMs"], results["latencyMs"]
    assert 10 <= service["p50"] < 40
    assert latency["p50"] >= service["p50"]  # from the intended start: never shorter
    true_p50 = served["variants"]["AllTraffic"]["response_ms"]["p50"]
    assert service["p50"] >= true_p50 * 0.995, (service, true_p50)  # 3 digits, not whole ms
    assert run.status["verdict"]["result"] == "Passed", run.status["verdict"]
    assert "serviceLatencyMs" not in (run.status["verdict"]["message"] or "")


def test_cap_too_small_for_a_slow_endpoint_counts_shortfall(simulator, elt_run) -> None:
    # 4 in flight at 200 ms each carry at most 20 requests/s; 50/s are asked for.
    sim = simulator(
        "--instances", "1", "--vcpus", "16", "--service-time-ms", "200",
        "--distribution", "constant", "--overhead-ms", "0",
    )  # fmt: skip
    load = {"targetTPS": 50, "maxInFlight": 4, "workers": 1, "duration": "4s"}
    run = elt_run(document(sagemaker_target(), load, {"minRequests": 10}), sim.env())
    results = run.results
    show("open 50/s, 4 in flight, 200 ms", results)
    assert results["intendedRequests"] == pytest.approx(200, rel=0.05)
    assert results["requests"] == pytest.approx(4 * 4 / 0.2, rel=0.15)
    assert results["shortfall"] == results["intendedRequests"] - results["requests"]
    verdict = run.status["verdict"]
    assert verdict["result"] == "Inconclusive", verdict
    assert (
        f"the generator fell behind: {results['shortfall']} of {results['intendedRequests']} "
        "intended requests were not sent on time; add workers"
    ) in verdict["message"]
    assert results["serviceLatencyMs"]["p50"] >= 200


def test_stages_change_the_rate(simulator, elt_run) -> None:
    sim = simulator(
        "--instances", "1", "--vcpus", "16", "--service-time-ms", "5",
        "--distribution", "constant", "--overhead-ms", "0",
    )  # fmt: skip
    load = {
        "workers": 2,
        "warmup": "1s",
        "stages": [{"duration": "2s", "targetTPS": 40}, {"duration": "2s", "targetTPS": 160}],
    }
    run = elt_run(document(sagemaker_target(), load, {"minRequests": 10}), sim.env())
    assert run.returncode == 0, run.explain()
    results = run.results
    show("open stages 40/s then 160/s", results)
    # window: 1 s at 40/s, then 2 s at 160/s
    assert results["intendedRequests"] == pytest.approx(40 + 320, rel=0.05)
    assert results["requests"] == results["intendedRequests"]
    assert results["shortfall"] == 0
    assert results["totalRequests"] == pytest.approx(80 + 320, rel=0.05)
    assert results["totalRequests"] == sim.stats()["endpoints"][sim.endpoint]["requests"]
