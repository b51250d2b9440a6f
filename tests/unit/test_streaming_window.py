"""Streamed-request figures: merged exactly across workers, window-only, goodput, verdict."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from pydantic import ValidationError

from endpoint_loadtest.api.models import EndpointLoadTestSpec, Results, Thresholds
from endpoint_loadtest.engine.judge import judge
from endpoint_loadtest.engine.results import results_from_window
from endpoint_loadtest.loadgen.latency import LatencyHistogram
from endpoint_loadtest.loadgen.phases import MEASURE, WARMUP
from endpoint_loadtest.loadgen.streaming.timing import EVENTS, USAGE, StreamFigures
from endpoint_loadtest.loadgen.streaming.window import (
    LiveStreaming,
    WorkerStreaming,
    window_streaming,
)


def figures(rng: random.Random, source: str = USAGE) -> StreamFigures:
    tokens = rng.randrange(1, 60)
    ttft = rng.uniform(50, 500)
    return StreamFigures(
        ttft_ms=ttft,
        latency_ms=ttft + rng.uniform(10, 30) * (tokens - 1),
        output_tokens=tokens,
        source=source,
        itl_ms=[rng.uniform(5, 40) for _ in range(tokens - 1)],
    )


def test_workers_merge_to_the_figures_of_all_requests_together() -> None:
    rng = random.Random(1)
    workers = [WorkerStreaming() for _ in range(3)]
    every: list[StreamFigures] = []
    for _ in range(900):
        item = figures(rng)
        rng.choice(workers).record(MEASURE, item)
        every.append(item)
    for worker in workers:  # warmup requests are totals of the run, not window figures
        worker.record(WARMUP, figures(rng))
    result = window_streaming([w.flush_message() for w in workers], window_seconds=30.0)
    single = LatencyHistogram()
    for item in every:
        single.record(item.ttft_ms)
    assert result["requests"] == 900
    assert result["ttftMs"]["p99"] == single.percentile(0.99)
    assert result["ttftMs"]["p50"] == single.percentile(0.5)
    assert result["ttftMs"]["mean"] == pytest.approx(sum(f.ttft_ms for f in every) / 900, abs=1e-3)
    tpots = LatencyHistogram()
    for item in every:
        if item.tpot_ms is not None:
            tpots.record(item.tpot_ms)
    assert result["tpotMs"]["p90"] == tpots.percentile(0.9)
    window_tokens = sum(f.output_tokens for f in every)
    assert result["outputTokens"] == window_tokens
    assert result["totalOutputTokens"] > window_tokens
    assert result["outputTokensPerSecond"] == pytest.approx(window_tokens / 30.0, abs=1e-3)
    assert result["outputTokensSource"] == USAGE
    assert result["goodRequests"] == 900 and result["goodput"] == 30.0


def test_goodput_counts_requests_meeting_every_objective() -> None:
    worker = WorkerStreaming()
    worker.slo = {"ttftMs": 200, "tpotMs": 20}
    fast = StreamFigures(ttft_ms=100, latency_ms=100 + 9 * 10, output_tokens=10, source=EVENTS)
    slow_start = StreamFigures(ttft_ms=300, latency_ms=390, output_tokens=10, source=EVENTS)
    slow_decode = StreamFigures(
        ttft_ms=100, latency_ms=100 + 9 * 30, output_tokens=10, source=USAGE
    )
    for item in (fast, fast, slow_start, slow_decode):
        worker.record(MEASURE, item)
    result = window_streaming([worker.flush_message()], window_seconds=2.0)
    assert (result["goodRequests"], result["goodput"]) == (2, 1.0)
    assert result["outputTokensSource"] == "mixed"


def test_live_figures_keep_the_last_seconds() -> None:
    now = [0.0]
    live = LiveStreaming(clock=lambda: now[0])
    assert live.figures() is None
    worker = WorkerStreaming()
    worker.record(
        MEASURE, StreamFigures(ttft_ms=900, latency_ms=1000, output_tokens=5, source=USAGE)
    )
    live.add(worker.take_recent())
    now[0] = 20.0
    worker.record(
        MEASURE, StreamFigures(ttft_ms=100, latency_ms=190, output_tokens=10, source=USAGE)
    )
    live.add(worker.take_recent())
    figures_now = live.figures()
    assert figures_now is not None
    assert figures_now["ttftP99Ms"] == 100.0 and figures_now["tpotP50Ms"] == 10.0
    assert figures_now["outputTokensPerSecond"] == 1.0  # 10 tokens over the last 10 s


def streamed_results(**streaming: object) -> Results:
    window = {
        "requests": 200,
        "failures": 0,
        "windowSeconds": 10.0,
        "latencyMs": {"p50": 900, "p99": 1500},
        "streaming": {
            "requests": 200,
            "ttftMs": {"p50": 120.0, "p99": 410.0},
            "tpotMs": {"p50": 18.0, "p99": 31.0},
            "outputTokens": 9000,
            "outputTokensPerSecond": 900.0,
            "goodRequests": 150,
            "goodput": 15.0,
            **streaming,
        },
    }
    return results_from_window(window)


LIMITS = {
    "minRequests": 100,
    "streaming": {
        "ttftMs": {"p99": 500},
        "tpotMs": {"p50": 20, "p99": 30},
        "minOutputTokensPerSecond": 800,
        "minGoodput": 16,
        "slo": {"ttftMs": 500, "tpotMs": 25},
    },
}


def test_streaming_checks_in_the_verdict() -> None:
    verdict = judge(streamed_results(), Thresholds.model_validate(LIMITS))
    by_name = {c.name: c for c in verdict.checks}
    assert by_name["streaming.ttftMs.p99"].passed
    assert by_name["streaming.tpotMs.p50"].passed
    assert not by_name["streaming.tpotMs.p99"].passed
    assert by_name["streaming.minOutputTokensPerSecond"].observed == 900.0
    goodput = by_name["streaming.minGoodput"]
    assert not goodput.passed and "150 of 200" in goodput.message
    assert verdict.result == "Failed"
    assert "TPOT p99 31 ms > 30 ms" in verdict.message


def test_no_streamed_sample_fails_the_percentile() -> None:
    results = streamed_results(ttftMs={}, tpotMs={})
    verdict = judge(results, Thresholds.model_validate(LIMITS))
    check = next(c for c in verdict.checks if c.name == "streaming.ttftMs.p99")
    assert not check.passed and "no streamed samples" in check.message


def spec(target: dict, thresholds: dict | None = None) -> dict:
    return {
        "target": target,
        "payload": {"bodies": [{"body": "{}", "maxTokens": 8}]},
        "load": {"users": 1, "duration": "10s"},
        "thresholds": thresholds or {},
    }


def test_spec_rules() -> None:
    stream = {"sagemaker": {"endpointName": "llm", "region": "us-east-1", "stream": {}}}
    EndpointLoadTestSpec.model_validate(spec(stream, LIMITS))
    plain = {"sagemaker": {"endpointName": "llm", "region": "us-east-1"}}
    with pytest.raises(ValidationError, match=r"thresholds\.streaming needs target"):
        EndpointLoadTestSpec.model_validate(spec(plain, LIMITS))
    with pytest.raises(ValidationError, match=r"minGoodput needs thresholds\.streaming\.slo"):
        EndpointLoadTestSpec.model_validate(spec(stream, {"streaming": {"minGoodput": 1}}))
    multi_model = {"sagemaker": {**stream["sagemaker"], "targetModel": "m.tar.gz"}}
    with pytest.raises(ValidationError, match="no TargetModel"):
        EndpointLoadTestSpec.model_validate(spec(multi_model))
    http = {"http": {"url": "http://vllm:8000/v1/completions", "stream": {"format": "openai"}}}
    assert EndpointLoadTestSpec.model_validate(spec(http, LIMITS)).target.stream is not None
    with pytest.raises(ValidationError, match="format"):
        EndpointLoadTestSpec.model_validate(
            spec({"http": {**http["http"], "stream": {"format": "x"}}})
        )


def test_plan_carries_stream_settings_objectives_and_max_tokens() -> None:
    from endpoint_loadtest.engine.plan import Placement, build_plan
    from endpoint_loadtest.loadgen.config import parse_plan

    stream = {"sagemaker": {"endpointName": "llm", "region": "us-east-1", "stream": {}}}
    parsed = EndpointLoadTestSpec.model_validate(spec(stream, LIMITS))
    plan = build_plan(
        parsed,
        name="t",
        run_id="r",
        placement=Placement(plan_dir="/p", master_host="m", inline_bodies=True),
    )
    target = plan.config["target"]
    assert target["stream"] == {"format": "auto", "includeUsage": True}
    assert target["slo"] == {"ttftMs": 500, "tpotMs": 25}
    config = parse_plan(plan.config, Path("/p"))
    assert config.payload.bodies[0].max_tokens == 8


def test_progress_shows_ttft_tpot_and_tokens_per_second() -> None:
    from endpoint_loadtest.api.models import Progress, StreamingProgress
    from endpoint_loadtest.engine.observe import Snapshot
    from endpoint_loadtest.local.progress import progress_line, streaming_summary

    live = {"ttftP50Ms": 120.4, "ttftP99Ms": 402.0, "tpotP50Ms": 18.25, "tpotP99Ms": 31.0}
    snapshot = Snapshot(
        at=0.0,
        status={"state": "measuring", "streaming": {**live, "outputTokensPerSecond": 950.5}},
        stats={},
    )
    progress = snapshot.progress()
    assert progress.streaming == StreamingProgress.model_validate(
        {**live, "outputTokensPerSecond": 950.5}
    )
    line = progress_line(progress, (2, 2))
    assert "TTFT p50/p99 120 ms / 402 ms" in line
    assert "TPOT p50/p99 18.2 ms / 31.0 ms" in line and "950.5 tokens/s" in line
    assert "TTFT" not in progress_line(Progress(stage="measuring"), (1, 1))
    summary = streaming_summary(streamed_results().streaming)
    assert "9000 output tokens" in summary and "goodput 15/s" in summary
