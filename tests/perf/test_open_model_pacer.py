"""Open model (load.targetTPS): pacer arithmetic, shortfall, latency, judge, API and plan."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import pytest
from gevent.event import Event
from pydantic import ValidationError

from endpoint_loadtest.api.models import DEFAULT_MAX_IN_FLIGHT, Load, Results, Thresholds
from endpoint_loadtest.engine.judge import judge
from endpoint_loadtest.engine.results import results_from_window
from endpoint_loadtest.loadgen.open_model import (
    LATE_TOLERANCE_SECONDS,
    SEND_AHEAD_SECONDS,
    ArrivalClock,
    Pacer,
    Shortfall,
    worker_cap,
)
from endpoint_loadtest.loadgen.phases import DONE, MEASURE, WARMUP, PhaseTracker

# ------------------------------------------------------------------ arrival arithmetic


def test_intended_times_are_t0_plus_i_over_rate() -> None:
    clock = ArrivalClock(rate=4.0, start=10.0)
    assert clock.due(9.99) == []
    assert clock.due(10.0) == [10.0]
    assert clock.due(10.6) == [10.25, 10.5]
    assert clock.next_time == 10.75


def test_no_drift_over_many_intervals() -> None:
    clock = ArrivalClock(rate=3.0, start=0.0)
    times = clock.due(1000.0)
    assert len(times) == 3001  # 0, 1/3, ..., 1000
    assert times[-1] == pytest.approx(1000.0, abs=1e-9)
    assert times[1500] == pytest.approx(500.0, abs=1e-9)


def test_rate_change_continues_from_the_next_intended_time() -> None:
    clock = ArrivalClock(rate=10.0, start=0.0)
    clock.due(0.95)  # 0.0 .. 0.9
    clock.set_rate(2.0, now=0.95)  # next would have been 1.0, later than now: start now
    assert clock.due(2.0) == pytest.approx([0.95, 1.45, 1.95])
    clock.set_rate(100.0, now=5.0)  # behind: the series continues from 2.45
    assert clock.due(2.47) == pytest.approx([2.45, 2.46, 2.47])
    with pytest.raises(ValueError):
        clock.set_rate(0, now=6.0)


def test_worker_cap_splits_the_test_cap() -> None:
    assert worker_cap(1000, 3) == 334
    assert worker_cap(4, 8) == 1
    assert worker_cap(10, 1) == 10


# ------------------------------------------------------------------ slots and shortfall


class FakeSend:
    """Records sends; each stays in flight until released."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []
        self.release = Event()

    def __call__(self, intended: float, phase: str) -> None:
        self.calls.append((intended, phase))
        self.release.wait()


def test_cap_reached_drops_and_counts_in_the_window_only() -> None:
    tracker = PhaseTracker()
    send = FakeSend()
    pacer = Pacer(send, cap=2, tracker=tracker)
    assert pacer.slot(0.0, 0.0) and pacer.slot(0.1, 0.1)
    assert not pacer.slot(0.2, 0.2)  # warmup: dropped, not counted
    assert pacer.shortfall == Shortfall()
    tracker.set(MEASURE)
    assert not pacer.slot(0.3, 0.3)
    assert pacer.shortfall == Shortfall(intended=1, late=0, dropped=1)
    send.release.set()
    while pacer.in_flight:  # the two finish
        gevent.sleep(0.001)
    assert tracker.busy == 0
    assert pacer.slot(0.4, 0.4 + LATE_TOLERANCE_SECONDS + 0.01)  # sent, but late
    assert pacer.slot(0.5, 0.5 + LATE_TOLERANCE_SECONDS / 2)  # sent on time
    assert pacer.shortfall == Shortfall(intended=3, late=1, dropped=1)
    assert pacer.shortfall.total == 2
    tracker.set(DONE)
    assert not pacer.slot(0.6, 0.6)  # nothing after the window, and nothing counted
    assert pacer.shortfall.intended == 3
    gevent.sleep(0)  # the spawned sends start
    assert [phase for _, phase in send.calls] == [WARMUP, WARMUP, MEASURE, MEASURE]


def test_paced_rate_under_gevent_and_stop_at_done() -> None:
    """A real pacer at 200/s for 1 s sends about 200 on time and stops at `done`."""
    tracker = PhaseTracker()
    tracker.set(MEASURE)
    sent: list[float] = []

    def send(intended: float, phase: str) -> None:
        sent.append(time.perf_counter() - intended)
        gevent.sleep(0.005)

    pacer = Pacer(send, cap=100, tracker=tracker)
    started = time.perf_counter()
    pacer.set_rate(200.0)
    gevent.sleep(1.0)
    tracker.set(DONE)
    elapsed = time.perf_counter() - started  # about 1 s; more on a busy machine
    assert pacer.greenlet is not None
    pacer.greenlet.join(timeout=2)
    assert pacer.greenlet.dead
    while pacer.in_flight:
        gevent.sleep(0.001)
    # slots at 0, 1/200, ... up to the last before `done`, which the pacer may not reach
    assert 200 * elapsed - 3 <= len(sent) <= 200 * elapsed + 2
    assert pacer.shortfall.intended == len(sent)
    assert pacer.shortfall.total == 0
    assert max(sent) < LATE_TOLERANCE_SECONDS
    # never earlier than the timer's resolution (the pacer wakes that much ahead)
    assert min(sent) >= -SEND_AHEAD_SECONDS


# ------------------------------------------------------------------ latency

# Importing locust monkey-patches the process, so this part runs in its own interpreter.
LATENCY_SCRIPT = """
import json, time
import locust  # noqa: F401  (patches first)
import gevent
import locust.env
import locust.stats
from endpoint_loadtest.loadgen.open_model import RequestSender
from endpoint_loadtest.loadgen.phases import MEASURE, WARMUP
from endpoint_loadtest.loadgen import latency, window_stats

class Body:
    name = "ep"
    data = b"{}"

class Payload:
    @staticmethod
    def next():
        return Body

class Config:
    payload = Payload

class SlowUser:  # stands in for an endpoint user: a call takes 20 ms
    base_request_type = "InvokeEndpoint"
    config = Config

    def call(self, body):
        gevent.sleep(0.02)
        return 7

    def measured(self, phase):
        pass

environment = locust.env.Environment()
environment.stats = locust.stats.RequestStats()
environment.events.request.add_listener(
    lambda request_type, name, response_time, response_length, **_: (
        environment.stats.log_request(request_type, name, response_time, response_length)
    )
)
sender = RequestSender(environment, SlowUser())
sender(time.perf_counter() - 0.1, MEASURE)  # sent 100 ms after its intended start
sender(time.perf_counter(), WARMUP)
early = latency.WindowLatency()
latency.WINDOW, saved = early, latency.WINDOW
import endpoint_loadtest.loadgen.call_report as call_report
call_report.WINDOW = early
other = locust.env.Environment()
other.stats = locust.stats.RequestStats()
RequestSender(other, SlowUser())(time.perf_counter() + 0.5, MEASURE)  # 500 ms *early*
call_report.WINDOW = latency.WINDOW = saved
closed = locust.stats.RequestStats()
closed.log_request("InvokeEndpoint", "ep", 12, 3)
print(json.dumps({
    "open": window_stats.window_result(environment.stats, "InvokeEndpoint"),
    "locustTotal": environment.stats.total.num_requests,
    "closed": window_stats.window_result(closed, "InvokeEndpoint"),
    "fine": window_stats.window_result(
        environment.stats,
        "InvokeEndpoint",
        latency.merge_messages([latency.WINDOW.to_message()]),
    ),
    "window": latency.WINDOW.to_message(),
    "early": early.to_message(),
}))
"""


def test_latency_from_intended_start_and_service_time_apart() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", LATENCY_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    result = out["open"]
    assert result["requests"] == 1
    assert result["totalRequests"] == 2  # the service entries are not requests
    assert out["locustTotal"] == 2  # nor in Locust's own totals
    assert 115 <= result["latencyMs"]["max"] < 250
    assert 18 <= result["serviceLatencyMs"]["max"] < 100
    assert result["latencyMs"]["max"] - result["serviceLatencyMs"]["max"] >= 99
    assert "serviceLatencyMs" not in out["closed"]
    # the fine histograms hold the measured request only, both times, to 3 digits
    window = out["window"]
    assert [count for _, count in window["latency"]] == [1]
    assert [count for _, count in window["service"]] == [1]
    # sent early: timed from the actual send, never from a future intended start
    (early_latency,) = out["early"]["latency"]
    (early_service,) = out["early"]["service"]
    assert early_latency == early_service and 18_000 <= early_latency[0] < 100_000
    fine = out["fine"]
    assert abs(fine["latencyMs"]["p50"] - result["latencyMs"]["max"]) <= 0.005 * 250
    assert fine["latencyMs"]["p50"] - fine["serviceLatencyMs"]["p50"] >= 99


# ------------------------------------------------------------------ results and judge


def window(intended: int, shortfall: int) -> dict[str, Any]:
    return {
        "requests": 1000,
        "failures": 0,
        "windowSeconds": 10.0,
        "latencyMs": {"p50": 30.0, "p99": 80.0},
        "serviceLatencyMs": {"p50": 20.0, "p99": 50.0},
        "intendedRequests": intended,
        "shortfall": shortfall,
        "totalRequests": 1200,
    }


def test_results_carry_service_latency_and_shortfall() -> None:
    results = results_from_window(window(1000, 3))
    assert results.service_latency_ms is not None
    assert results.service_latency_ms.p99 == 50.0
    assert (results.intended_requests, results.shortfall) == (1000, 3)
    wire = results.to_wire()
    assert wire["serviceLatencyMs"]["p50"] == 20.0
    assert wire["shortfall"] == 3 and wire["intendedRequests"] == 1000
    closed = results_from_window({"requests": 5, "windowSeconds": 1.0})
    assert closed.shortfall is None and closed.service_latency_ms is None


def test_judge_inconclusive_when_shortfall_above_one_percent() -> None:
    thresholds = Thresholds(min_requests=10, latency_ms={"p99": 10})  # p99 fails too
    verdict = judge(results_from_window(window(1000, 11)), thresholds)
    assert verdict.result == "Inconclusive"
    assert (
        "the generator fell behind: 11 of 1000 intended requests were not sent on time; "
        "add workers" in verdict.message
    )
    check = next(c for c in verdict.checks if c.name == "generatorShortfall")
    assert not check.passed and check.observed == pytest.approx(0.011)


def test_judge_accepts_shortfall_up_to_one_percent() -> None:
    thresholds = Thresholds(min_requests=10)
    verdict = judge(results_from_window(window(1000, 10)), thresholds)
    assert verdict.result == "Passed", verdict.message
    assert next(c for c in verdict.checks if c.name == "generatorShortfall").passed
    closed = judge(Results(requests=100, tps=10.0), thresholds)
    assert all(c.name != "generatorShortfall" for c in closed.checks)


# ------------------------------------------------------------------ API and plan


def test_load_open_model_shapes() -> None:
    load = Load.model_validate({"targetTPS": 100, "duration": "5s"})
    assert load.open_model and load.in_flight_cap == DEFAULT_MAX_IN_FLIGHT
    assert load.peak_users == DEFAULT_MAX_IN_FLIGHT
    staged = Load.model_validate(
        {"stages": [{"duration": "5s", "targetTPS": 10}, {"duration": "5s", "targetTPS": 50}]}
    )
    assert staged.open_model
    assert not Load.model_validate({"users": 3, "duration": "5s"}).open_model
    bad = [
        {"users": 3, "targetTPS": 10, "duration": "5s"},
        {"targetTPS": 10},
        {"targetTPS": 0, "duration": "5s"},
        {"users": 3, "duration": "5s", "maxInFlight": 10},
        {"stages": [{"duration": "5s", "users": 1}, {"duration": "5s", "targetTPS": 5}]},
        {"stages": [{"duration": "5s", "users": 1, "targetTPS": 5}]},
        {"stages": [{"duration": "5s"}]},
        {"targetTPS": 10, "duration": "5s", "stages": [{"duration": "5s", "targetTPS": 5}]},
    ]
    for spec in bad:
        with pytest.raises(ValidationError):
            Load.model_validate(spec)


def test_plan_carries_rate_and_cap() -> None:
    from endpoint_loadtest.api.models import EndpointLoadTestSpec
    from endpoint_loadtest.engine.plan import Placement, build_plan
    from endpoint_loadtest.loadgen.config import parse_plan

    spec = EndpointLoadTestSpec.model_validate(
        {
            "target": {"sagemaker": {"endpointName": "ep", "region": "us-east-1"}},
            "payload": {"body": "{}"},
            "load": {"targetTPS": 100, "maxInFlight": 40, "warmup": "2s", "duration": "5s"},
        }
    )
    placement = Placement("/p", "127.0.0.1", inline_bodies=True)
    plan = build_plan(spec, name="t", run_id="r", placement=placement)
    assert plan.planned_seconds == 7.0
    config = parse_plan(plan.config, Path("/nonexistent"))
    assert config.schedule.open_model and config.schedule.max_in_flight == 40
    assert config.schedule.stages[0].target_tps == 100
    assert config.schedule.peak_users == 40
