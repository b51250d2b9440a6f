"""The capacity search's rule (engine/search.py) and its judgement (engine/capacity.py)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from endpoint_loadtest.api.models import EndpointLoadTestSpec
from endpoint_loadtest.engine import search as rule
from endpoint_loadtest.engine.capacity import assess, judge_step

SETTINGS = rule.Settings(start_tps=20, max_tps=400, precision=0.05, max_steps=12)


def drive(capacity: float, settings: rule.Settings = SETTINGS) -> tuple[list[float], rule.Stop]:
    """Run the rule against an endpoint that passes every rate up to `capacity`."""
    outcomes: list[rule.Outcome] = []
    while (step := rule.next_step(settings, outcomes)).offered_tps is not None:
        outcomes.append(rule.Outcome(step.offered_tps, step.offered_tps <= capacity))
    assert step.stop is not None
    return [o.offered_tps for o in outcomes], step.stop


def test_grows_geometrically_then_bisects_to_the_precision() -> None:
    rates, stop = drive(100)
    assert rates[:4] == [20, 40, 80, 160]
    assert stop == rule.Stop.BRACKETED
    good, bad = rule.bracket([rule.Outcome(r, r <= 100) for r in rates])
    assert good is not None and bad is not None
    assert good <= 100 < bad and (bad - good) <= 0.05 * good
    assert len(rates) <= 9


@pytest.mark.parametrize("capacity", [23, 57.5, 99, 101, 250, 333])
def test_the_bracket_holds_the_capacity(capacity: float) -> None:
    rates, stop = drive(capacity)
    good, bad = rule.bracket([rule.Outcome(r, r <= capacity) for r in rates])
    assert stop == rule.Stop.BRACKETED, rates
    assert good <= capacity < bad  # type: ignore[operator]
    assert bad - good <= 0.05 * good  # type: ignore[operator]


def test_stop_rules() -> None:
    assert drive(10)[1] == rule.Stop.FAILED_AT_START
    rates, stop = drive(1000)
    assert stop == rule.Stop.AT_LEAST and rates[-1] == 400  # capped at maxTPS
    few = rule.Settings(start_tps=20, max_tps=400, precision=0.01, max_steps=5)
    rates, stop = drive(100, few)
    assert stop == rule.Stop.MAX_STEPS and len(rates) == 5
    generator = [rule.Outcome(20, True), rule.Outcome(40, False, conclusive=False)]
    assert rule.next_step(SETTINGS, generator).stop == rule.Stop.GENERATOR


def spec(**search: Any) -> EndpointLoadTestSpec:
    return EndpointLoadTestSpec.model_validate(
        {
            "target": {"sagemaker": {"endpointName": "ep", "region": "us-east-1"}},
            "payload": {"body": "{}"},
            "search": {"startTPS": 20, "maxTPS": 400, "stepDuration": "10s", **search},
            "thresholds": {"latencyMs": {"p99": 100}},
        }
    )


def window(index: int, offered: float, p99: float, failures: int = 0, **extra: Any) -> dict:
    requests = int(offered * 10)
    return {
        "index": index,
        "offeredTPS": offered,
        "requests": requests,
        "failures": failures,
        "windowSeconds": 10.0,
        "windowStart": 1_700_000_000 + index * 20,
        "windowEnd": 1_700_000_010 + index * 20,
        "latencyMs": {"p50": p99 / 2, "p99": p99},
        "errorsByType": {"ServiceUnavailable": failures} if failures else {},
        "intendedRequests": requests,
        "shortfall": 0,
        **extra,
    }


def test_a_step_is_judged_like_a_single_test_plus_sustained() -> None:
    _, verdict, step = judge_step(window(1, 100, 150), spec().thresholds)
    assert not step.passed and step.limited_by == "latency"
    assert step.message.startswith("p99 150 ms > 100 ms")
    assert verdict.checks[-1].name == "sustained"
    _, _, step = judge_step(window(1, 100, 50, failures=50), spec().thresholds)
    assert step.limited_by == "errors"  # errors first, though throughput fell too
    flat = {**window(1, 100, 50), "requests": 900}
    _, _, step = judge_step(flat, spec().thresholds)
    assert step.limited_by == "throughput" and step.achieved_tps == 90.0
    late = window(1, 100, 50, shortfall=50)
    _, _, step = judge_step(late, spec().thresholds)
    assert step.limited_by == "generator" and "fell behind" in step.message
    # the endpoint's own error answers fail a step whatever the generator did
    answered = window(1, 100, 50, failures=100, shortfall=50, errorsByStatus={"5xx": 100})
    _, _, step = judge_step(answered, spec().thresholds)
    assert step.limited_by == "errors"
    timeouts = window(1, 100, 50, failures=100, shortfall=50, errorsByStatus={"none": 100})
    _, _, step = judge_step(timeouts, spec().thresholds)
    assert step.limited_by == "generator"


def test_assess_answers_with_capacity_recommendation_and_one_check_per_step() -> None:
    steps = [
        window(1, 20, 40),
        window(2, 40, 45),
        window(3, 80, 60),
        window(4, 160, 400),
        window(5, 120, 300),
        window(6, 100, 120),
        window(7, 90, 80),
        window(8, 95, 90),
        window(9, 97.5, 95),
    ]
    test = spec(targetTPS=500, instances=2)
    results, verdict, capacity = assess({"search": {"steps": steps}, "totalRequests": 9999}, test)
    assert verdict.result == "Passed", verdict.message
    assert [c.name for c in verdict.checks] == [f"step{i}" for i in range(1, 10)]
    assert capacity.max_tps == 97.5 and capacity.per_instance_tps == 48.75
    assert capacity.limited_by == "latency"
    assert capacity.limit_detail == "p99 120 ms > 100 ms at 100 TPS"
    assert results.success_tps == 97.5 and results.total_requests == 9999
    advice = capacity.recommendation
    assert advice is not None
    assert advice.instances == math.ceil(500 / (48.75 * 0.65))
    assert advice.invocations_per_instance_target == round(48.75 * 0.5 * 60, 1)
    assert advice.scaling_policy["TargetValue"] == round(48.75 * 0.5 * 60, 1)
    wire = capacity.to_wire()
    assert wire["steps"][0]["windowStart"].endswith("Z")
    assert wire["steps"][0]["cpuPerInstance"] is None  # null, not left out
    assert set(wire) >= {"maxTPS", "atLeast", "perInstanceTPS", "limitedBy", "recommendation"}


def test_assess_failed_at_start_and_at_least() -> None:
    _, verdict, capacity = assess({"search": {"steps": [window(1, 20, 150)]}}, spec())
    assert verdict.result == "Failed" and capacity.max_tps is None
    assert capacity.limited_by == "latency" and capacity.recommendation is None
    steps = [window(i + 1, r, 50) for i, r in enumerate([20, 40, 80, 160, 320, 400])]
    _, verdict, capacity = assess({"search": {"steps": steps}}, spec(targetTPS=100))
    assert verdict.result == "Inconclusive" and capacity.at_least
    assert capacity.max_tps == 400 and "at least" in verdict.message


def test_spec_rules_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"mutually exclusive with load\.users"):
        EndpointLoadTestSpec.model_validate(
            {**spec().to_wire(), "load": {"users": 2, "duration": "5s"}}
        )
    with pytest.raises(ValueError, match=r"thresholds\.minRequests 100"):
        spec(startTPS=5)
    with pytest.raises(ValueError, match=r"search\.maxTPS must be at least search\.startTPS"):
        spec(maxTPS=10)
    with pytest.raises(ValueError, match="minTPS does not apply"):
        EndpointLoadTestSpec.model_validate({**spec().to_wire(), "thresholds": {"minTPS": 10}})


def test_the_plan_and_the_deadlines_of_a_search() -> None:
    from endpoint_loadtest.engine.lifecycle import deadlines_for
    from endpoint_loadtest.engine.plan import Placement, build_plan

    test = spec(stepWarmup="5s", maxSteps=6, precision=0.1)
    plan = build_plan(test, name="t", run_id="r", placement=Placement("/p", "m"))
    schedule = plan.config["schedule"]
    assert schedule["stages"][0]["targetTps"] == 20  # the open model from startTPS
    assert (schedule["warmupSeconds"], schedule["durationSeconds"]) == (5, 10)
    assert schedule["search"]["maxSteps"] == 6 and schedule["search"]["precision"] == 0.1
    assert schedule["search"]["thresholds"]["latencyMs"] == {"p99": 100}
    assert plan.planned_seconds == 6 * 15
    table = deadlines_for(test, start=60)
    drain = test.load.request_timeout_seconds + 15
    assert table.overall >= 60 + 6 * 15 + 6 * drain


def test_a_steps_cloudwatch_read_is_its_own_periods() -> None:
    from endpoint_loadtest.engine.capacity import step_windows

    steps = [
        {"windowStart": 600.002, "windowEnd": 660.004},
        {"windowStart": 719.999, "windowEnd": 839.9},
    ]
    assert step_windows({"search": {"steps": steps}}, 60) == [(600.0, 660.0), (720.0, 840.0)]
