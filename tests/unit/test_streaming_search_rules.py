"""A capacity search of a streamed target: each step judged on its TTFT and TPOT limits
too, and carrying its window's streaming figures (engine/capacity.py, api/spec_models.py)."""

from __future__ import annotations

from typing import Any

import pytest

from endpoint_loadtest.api import crd
from endpoint_loadtest.api.models import EndpointLoadTestSpec
from endpoint_loadtest.engine.capacity import assess, judge_step
from endpoint_loadtest.engine.results import results_from_window
from endpoint_loadtest.loadgen.phases import MEASURE
from endpoint_loadtest.loadgen.streaming import window as streaming

STREAMING = {"ttftMs": {"p99": 300}, "tpotMs": {"p99": 50}}


def spec(streaming_limits: dict[str, Any] | None = None, **thresholds: Any) -> EndpointLoadTestSpec:
    return EndpointLoadTestSpec.model_validate(
        {
            "target": {"sagemaker": {"endpointName": "llm", "region": "us-east-1", "stream": {}}},
            "payload": {"bodies": [{"body": '{"inputs": "hi"}', "maxTokens": 10}]},
            "search": {"startTPS": 2, "maxTPS": 40, "stepDuration": "10s"},
            "thresholds": {
                "minRequests": 10,
                "latencyMs": {"p99": 2000},
                "streaming": streaming_limits or STREAMING,
                **thresholds,
            },
        }
    )


def window(index: int, offered: float, ttft_p99: float, tpot_p99: float = 30.0) -> dict:
    """A step's window as the master sends it: its streaming figures are window_streaming's."""
    requests = int(offered * 10)
    return {
        "index": index,
        "offeredTPS": offered,
        "requests": requests,
        "failures": 0,
        "windowSeconds": 10.0,
        "windowStart": 1_700_000_000 + index * 20,
        "windowEnd": 1_700_000_010 + index * 20,
        "latencyMs": {"p50": 400.0, "p99": 900.0},
        "intendedRequests": requests,
        "shortfall": 0,
        "streaming": {
            "requests": requests,
            "ttftMs": {"p50": ttft_p99 / 2, "p99": ttft_p99},
            "tpotMs": {"p50": tpot_p99 / 2, "p99": tpot_p99},
            "outputTokens": requests * 10,
            "outputTokensPerSecond": requests * 10 / 10.0,
            "goodRequests": requests,
            "goodput": requests / 10.0,
        },
    }


def test_a_search_of_a_streamed_target_is_accepted_and_plans_its_limits() -> None:
    from endpoint_loadtest.engine.plan import Placement, build_plan

    test = spec()
    plan = build_plan(test, name="t", run_id="r", placement=Placement("/p", "m"))
    search = plan.config["schedule"]["search"]
    assert search["thresholds"]["streaming"] == STREAMING  # the master judges each step on it
    assert plan.config["target"]["stream"] is not None


@pytest.mark.parametrize("floor", ["minOutputTokensPerSecond", "minGoodput"])
def test_throughput_floors_are_refused_with_a_search(floor: str) -> None:
    limits = {**STREAMING, floor: 5, "slo": {"ttftMs": 500}}
    with pytest.raises(ValueError, match=rf"thresholds\.streaming\.{floor} does not apply"):
        spec(limits)


def test_the_crd_refuses_the_floors_too() -> None:
    rules = crd.build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    spec_rules = rules["spec"]["x-kubernetes-validations"]
    (rule,) = [r for r in spec_rules if "minGoodput" in r["rule"]]
    assert rule["rule"].startswith("!has(self.search) || ")
    assert "minOutputTokensPerSecond and minGoodput do not apply" in rule["message"]


def test_a_step_breaking_ttft_is_limited_by_latency_and_names_it() -> None:
    thresholds = spec().thresholds
    results, verdict, step = judge_step(window(1, 10, 412), thresholds)
    assert not step.passed and step.limited_by == "latency"
    assert step.message.startswith("TTFT p99 412 ms > 300 ms")
    assert any(c.name == "streaming.ttftMs.p99" and not c.passed for c in verdict.checks)
    # the step's figures are its window's results.streaming, as a single test computes it
    assert results.streaming is not None
    assert (step.ttft_p99_ms, step.tpot_p99_ms) == (412, 30)
    assert step.output_tokens_per_second == results.streaming.output_tokens_per_second == 100
    _, _, step = judge_step(window(1, 10, 200, tpot_p99=61), thresholds)
    assert step.limited_by == "latency" and step.message.startswith("TPOT p99 61 ms > 50 ms")
    _, _, step = judge_step(window(1, 10, 200), thresholds)
    assert step.passed and "TTFT p99 200 ms, TPOT p99 30 ms, 100.0 output tokens/s" in step.message


def test_errors_still_outrank_a_broken_ttft() -> None:
    failing = {**window(1, 10, 900), "failures": 10, "errorsByType": {"ServiceUnavailable": 10}}
    _, _, step = judge_step(failing, spec().thresholds)
    assert step.limited_by == "errors"


def test_assess_answers_with_the_ttft_limit_and_the_tokens_at_max_tps() -> None:
    steps = [
        window(1, 2, 110),
        window(2, 4, 120),
        window(3, 8, 150),
        window(4, 16, 900),
        window(5, 12, 420),
        window(6, 10, 280),
        window(7, 11, 350),
        window(8, 10.5, 290),
    ]
    results, verdict, capacity = assess({"search": {"steps": steps}}, spec())
    assert verdict.result == "Passed", verdict.message
    assert capacity.max_tps == 10.5 and capacity.limited_by == "latency"
    assert capacity.limit_detail == "TTFT p99 350 ms > 300 ms at 11 TPS"
    assert capacity.output_tokens_per_second == 105.0
    assert results.streaming is not None and results.streaming.output_tokens_per_second == 105.0
    wire = capacity.to_wire()
    assert wire["outputTokensPerSecond"] == 105.0
    assert {"ttftP99Ms", "tpotP99Ms", "outputTokensPerSecond"} <= set(wire["steps"][0])
    assert wire["steps"][3]["ttftP99Ms"] == 900


def test_a_step_of_a_target_that_does_not_stream_has_null_streaming_figures() -> None:
    plain = {k: v for k, v in window(1, 10, 100).items() if k != "streaming"}
    _, _, step = judge_step(plain, spec().thresholds.model_copy(update={"streaming": None}))
    wire = step.to_wire()
    assert wire["ttftP99Ms"] is None and wire["outputTokensPerSecond"] is None
    assert results_from_window(plain).streaming is None


def test_a_workers_step_flush_starts_the_next_window_from_nothing() -> None:
    """Each step's streaming figures are its own window's: the worker clears them with the
    other window figures once it flushed the step (worker_phase.py), keeping the run's
    totals. (The integration test shows it end to end: each step's tokens are its own.)"""
    from endpoint_loadtest.loadgen.streaming.timing import StreamFigures

    worker = streaming.WorkerStreaming()
    figures = StreamFigures(ttft_ms=120.0, latency_ms=400.0, output_tokens=10, source="usage")
    worker.record(MEASURE, figures)
    assert worker.flush_message()["requests"] == 1
    worker.clear_window()
    message = worker.flush_message()
    assert message["requests"] == 0 and message["outputTokens"] == 0
    assert message["runRequests"] == 1 and message["runOutputTokens"] == 10


def test_the_terminal_and_the_report_show_a_streamed_steps_figures() -> None:
    import io

    from endpoint_loadtest.local.progress import render_capacity, step_line
    from endpoint_loadtest.report.search import steps_section

    steps = [window(1, 2, 110), window(2, 4, 420), window(3, 3, 150), window(4, 3.5, 160)]
    _, _, capacity = assess({"search": {"steps": steps}}, spec())
    out = io.StringIO()
    render_capacity(capacity, out)
    text = out.getvalue()
    assert "TTFT p99" in text and "tokens/s" in text and "35.0 output tokens/s" in text
    wire = capacity.to_wire()
    assert "TTFT p99 420 ms, TPOT p99 30.0 ms, 40.0 tokens/s" in step_line(wire["steps"][1])
    html = steps_section(wire)
    assert "<th>TTFT p99</th>" in html and "420.0 ms" in html
