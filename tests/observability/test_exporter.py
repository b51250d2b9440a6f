"""The /metrics exporter: names, units, labels, deletion, and what a scrape costs."""

from __future__ import annotations

import socket
import time
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from endpoint_loadtest.api.models import EndpointLoadTestStatus
from endpoint_loadtest.engine.observe import Snapshot
from endpoint_loadtest.observability.exporter import (
    METRICS,
    PREFIX,
    LoadTestExporter,
    metric_names,
    serve,
)

STREAMING_LIMITS = {
    "ttftMs": {"p99": 500},
    "tpotMs": {"p50": 25, "p99": 40},
    "minOutputTokensPerSecond": 800,
    "minGoodput": 5,
    "slo": {"ttftMs": 500},
}
FULL_SPEC = {"thresholds": {"minTPS": 150, "latencyMs": {"p50": 50, "p99": 150}}}
STREAMED_SPEC = {"thresholds": {**FULL_SPEC["thresholds"], "streaming": STREAMING_LIMITS}}
STREAMING = {
    "requests": 9000,
    "ttftMs": {"p50": 120.0, "p90": 200.0, "p95": 260.0, "p99": 410.0},
    "tpotMs": {"p50": 18.0, "p90": 22.0, "p95": 25.0, "p99": 31.0},
    "itlMs": {"p50": 17.0, "p90": 24.0, "p95": 30.0, "p99": 45.0},
    "outputTokens": 540000,
    "totalOutputTokens": 570000,
    "outputTokensSource": "usage",
    "outputTokensPerSecond": 9000.0,
    "goodRequests": 8000,
    "goodput": 133.3,
}
LIVE_STREAMING = {
    "ttftP50Ms": 125.0,
    "ttftP99Ms": 420.0,
    "tpotP50Ms": 18.5,
    "tpotP99Ms": 33.0,
    "outputTokensPerSecond": 8950.0,
}
CLOUDWATCH = {
    "endpointName": "ep",
    "variantName": "AllTraffic",
    "start": "2026-01-01T00:00:00Z",
    "end": "2026-01-01T00:03:00Z",
    "periodSeconds": 60,
    "modelLatencyMs": {"average": 21.5, "p50": 18.0, "p90": 30.0, "p99": 45.0},
    "overheadLatencyMs": {"average": 2.0, "p50": 1.9, "p90": 2.1, "p99": 2.5},
    "invocations": 9000,
    "invocationsPerInstance": 4500,
    "invocation4XXErrors": 3,
    "invocation5XXErrors": 45,
    "error5xxRate": 0.005,
    "cpuUtilizationPercent": 4464,
    "cpuUtilizationAveragePercent": 3000,
    "instanceCpuPercent": 93,
    "saturated": True,
    "memoryUtilizationPercent": 41.5,
    "gpuUtilizationPercent": 80,
    "gpuMemoryUtilizationPercent": 60,
}
FULL_STATUS = {
    "phase": "Completed",
    "runId": "r1",
    "workers": {"expected": 2, "connected": 2},
    "progress": {"users": 6, "currentRps": 150.5, "currentP50Ms": 20, "currentP99Ms": 90,
                 "maxWorkerCpuPercent": 40},
    "results": {
        "requests": 9000, "failures": 45, "tps": 150.0, "successTps": 149.25, "errorRate": 0.005,
        "latencyMs": {"p50": 20.0, "p90": 40.0, "p95": 60.0, "p99": 95.0},
        "errorsByType": {"ModelError (HTTP 424)": 40, "ServiceUnavailable (HTTP 503)": 5},
        "windowSeconds": 60.0, "totalRequests": 9500, "maxWorkerCpuPercent": 40.0,
        "cloudwatch": CLOUDWATCH,
    },
    "verdict": {"result": "Passed", "checks": [], "message": "ok"},
    "conditions": [{"type": "CloudWatchAvailable", "status": "True", "reason": "Scraped"}],
}  # fmt: skip
# A streamed target's status: the same, with the token stream's figures.
STREAMED_STATUS = {
    **FULL_STATUS,
    "progress": {**FULL_STATUS["progress"], "streaming": LIVE_STREAMING},
    "results": {**FULL_STATUS["results"], "streaming": STREAMING},
}
# A status the API accepts: the exporter reads exactly the keys the models write.
EndpointLoadTestStatus.model_validate(FULL_STATUS)
EndpointLoadTestStatus.model_validate(STREAMED_STATUS)

LIVE_SNAPSHOT = Snapshot(
    at=time.time(),
    status={"state": "measuring", "workers": {"expected": 2, "connected": 1}},
    stats={
        "current_rps": 120.0,
        "current_fail_per_sec": 1.5,
        "current_response_time_percentiles": {
            "response_time_percentile_0.5": 20,
            "response_time_percentile_0.95": 70,
        },
        "stats": [{"name": "Aggregated", "num_requests": 1234, "num_failures": 7}],
        "errors": [
            {"error": "ThrottlingException (HTTP 400)", "occurrences": 4},
            {"error": "ThrottlingException (HTTP 400)", "occurrences": 1},
            {"error": "Timeout", "occurrences": 2},
        ],
        "workers": [{"cpu_usage": 55.0}],
        "user_count": 8,
    },
)
LIVE_STATUS = {
    "phase": "Running",
    "runId": "r2",
    "workers": {"expected": 2, "connected": 1},
    "progress": LIVE_SNAPSHOT.progress().to_wire(),
}

SEARCH_STATUS = {
    "phase": "Completed",
    "runId": "r3",
    "verdict": {"result": "Passed", "checks": [], "message": ""},
    "capacity": {
        "maxTPS": 97.5, "atLeast": False, "perInstanceTPS": 48.75, "instances": 2,
        "limitedBy": "latency", "limitDetail": "p99 120 ms > 100 ms at 100 TPS",
        "steps": [
            {"index": 1, "offeredTPS": 50, "achievedTPS": 49.9, "p99Ms": 60.0,
             "errorRate": 0.0, "passed": True},
            {"index": 2, "offeredTPS": 100, "achievedTPS": 99.8, "p99Ms": 120.0,
             "errorRate": 0.0, "passed": False, "limitedBy": "latency"},
        ],
        "recommendation": {"instances": 16, "invocationsPerInstanceTarget": 1462.5},
    },
}  # fmt: skip


def test_a_capacity_search_exports_its_steps_and_answer() -> None:
    exporter = LoadTestExporter()
    exporter.update("ns", "sizing", SEARCH_STATUS)
    text = generate_latest(registry_with(exporter)).decode()
    labels = 'name="sizing",namespace="ns",run="r3"'
    assert f"elt_capacity_max_tps{{{labels}}} 97.5" in text
    assert f"elt_capacity_per_instance_tps{{{labels}}} 48.75" in text
    assert f'elt_capacity_limited_by{{limit="latency",{labels}}} 1.0' in text
    assert f'elt_capacity_limited_by{{limit="errors",{labels}}} 0.0' in text
    assert f"elt_capacity_recommended_instances{{{labels}}} 16.0" in text
    assert f'elt_capacity_step_offered_tps{{{labels},step="2"}} 100.0' in text
    assert f'elt_capacity_step_p99_seconds{{{labels},step="2"}} 0.12' in text
    assert f'elt_capacity_step_passed{{{labels},step="2"}} 0.0' in text


STREAMED_STEP = {"ttftP99Ms": 412.0, "tpotP99Ms": 31.0, "outputTokensPerSecond": 950.5}
STREAMED_SEARCH_STATUS = {
    **SEARCH_STATUS,
    "capacity": {
        **SEARCH_STATUS["capacity"],
        "steps": [{**SEARCH_STATUS["capacity"]["steps"][1], **STREAMED_STEP}],
    },
}


def test_a_streamed_search_exports_each_steps_streaming_figures() -> None:
    exporter = LoadTestExporter()
    exporter.update("ns", "sizing", STREAMED_SEARCH_STATUS)
    text = generate_latest(registry_with(exporter)).decode()
    labels = 'name="sizing",namespace="ns",run="r3",step="2"'
    assert f"elt_capacity_step_ttft_p99_seconds{{{labels}}} 0.412" in text
    assert f"elt_capacity_step_tpot_p99_seconds{{{labels}}} 0.031" in text
    assert f"elt_capacity_step_output_tokens_per_second{{{labels}}} 950.5" in text


def registry_with(exporter: LoadTestExporter) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(exporter)
    return registry


def scrape(exporter: LoadTestExporter) -> dict[tuple[str, frozenset], float]:
    text = generate_latest(registry_with(exporter)).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples, metric: str, **labels) -> float:
    matches = [v for (n, ls), v in samples.items() if n == metric and set(labels.items()) <= ls]
    assert len(matches) == 1, (metric, labels, matches)
    return matches[0]


def test_names_follow_prometheus_conventions():
    for key, (_, text, extra) in METRICS.items():
        name = f"{PREFIX}_{key}"
        assert name.startswith("elt_") and text
        assert not name.endswith("_total"), "counters get _total from the client library"
        assert not any(unit in name for unit in ("_ms", "milli", "percent", "micro")), name
        assert set(extra).isdisjoint({"namespace", "name", "run"})
    assert "elt_requests_total" in metric_names()
    assert "elt_endpoint_invocation_5xx_errors_total" in metric_names()


def test_a_finished_test_in_base_units():
    exporter = LoadTestExporter()
    exporter.update("team-a", "distilbert", FULL_STATUS, spec=FULL_SPEC)
    samples = scrape(exporter)
    labels = {"namespace": "team-a", "name": "distilbert", "run": "r1"}
    assert value(samples, "elt_test_phase", phase="Completed", **labels) == 1
    assert value(samples, "elt_test_phase", phase="Running", **labels) == 0
    assert value(samples, "elt_test_verdict", verdict="Passed", **labels) == 1
    assert value(samples, "elt_achieved_tps", **labels) == 150.0
    assert value(samples, "elt_response_time_seconds", percentile="p99", **labels) == 0.095
    assert value(samples, "elt_requests_total", **labels) == 9500
    assert value(samples, "elt_failures_total", error_type="ModelError (HTTP 424)") == 40
    assert value(samples, "elt_worker_cpu_max_ratio") == 0.4
    assert value(samples, "elt_target_tps") == 150
    assert value(samples, "elt_latency_limit_seconds", percentile="p50") == 0.05
    assert value(samples, "elt_endpoint_model_latency_seconds", percentile="p99") == 0.045
    assert value(samples, "elt_endpoint_overhead_latency_average_seconds") == 0.002
    assert value(samples, "elt_endpoint_invocation_5xx_errors_total") == 45
    assert value(samples, "elt_endpoint_cpu_utilization_ratio", stat="maximum") == 44.64
    assert value(samples, "elt_endpoint_instance_cpu_utilization_ratio") == 0.93
    assert value(samples, "elt_endpoint_saturated") == 1
    assert value(samples, "elt_endpoint_gpu_memory_utilization_ratio") == 0.6
    assert value(samples, "elt_cloudwatch_available") == 1


def test_live_figures_from_the_masters_poll():
    snapshot, status = LIVE_SNAPSHOT, LIVE_STATUS
    exporter = LoadTestExporter()
    exporter.update("ns", "t", status, snapshot=snapshot)
    samples = scrape(exporter)
    assert value(samples, "elt_current_requests_per_second") == 120
    assert value(samples, "elt_current_failures_per_second") == 1.5
    assert value(samples, "elt_current_response_time_seconds", percentile="p95") == 0.07
    assert value(samples, "elt_requests_total") == 1234
    assert value(samples, "elt_failures_total", error_type="ThrottlingException (HTTP 400)") == 5
    assert value(samples, "elt_users") == 8
    assert value(samples, "elt_workers_connected") == 1
    assert value(samples, "elt_worker_cpu_max_ratio") == 0.55
    assert not [n for n, _ in samples if n.startswith("elt_test_verdict")]


def test_deleted_tests_disappear():
    exporter = LoadTestExporter()
    exporter.update("ns", "a", FULL_STATUS)
    exporter.update("ns", "b", {**FULL_STATUS, "runId": "r9"})
    exporter.update("ns", "a", {**FULL_STATUS, "runId": "r2"})  # a rerun replaces the run
    runs = {dict(ls)["name"]: dict(ls)["run"] for (n, ls) in scrape(exporter) if n == "elt_users"}
    assert runs == {"a": "r2", "b": "r9"}
    exporter.remove("ns", "a")
    exporter.remove("ns", "never-seen")
    names = {dict(ls).get("name") for (_, ls) in scrape(exporter)}
    assert names == {"b"}
    assert exporter.keys() == [("ns", "b")]


def test_a_scrape_calls_nothing_and_costs_little(monkeypatch):
    exporter = LoadTestExporter()
    for index in range(200):
        exporter.update("ns", f"t{index}", FULL_STATUS, spec=FULL_SPEC)

    def no_network(*args, **kwargs):
        raise AssertionError("a scrape opened a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    registry = registry_with(exporter)
    generate_latest(registry)
    began = time.perf_counter()
    rounds = 5
    for _ in range(rounds):
        text = generate_latest(registry)
    per_scrape = (time.perf_counter() - began) / rounds
    assert text.count(b"\nelt_achieved_tps{") == 200
    # 200 tests, ~60 series each: well under a scrape interval on a shared 2-core machine.
    assert per_scrape < 0.5, f"{per_scrape * 1000:.0f} ms per scrape of 200 tests"
    print(f"scrape of 200 tests: {per_scrape * 1000:.1f} ms, {len(text)} bytes")


def test_serve_and_wait_for_a_scrape():
    exporter = LoadTestExporter()
    server, _ = serve(0, "127.0.0.1", registry=registry_with(exporter), exporter=exporter)
    try:
        exporter.update("ns", "t", FULL_STATUS)
        assert not exporter.wait_scraped(0.01)
        generate_latest(registry_with(exporter))  # rendered, not sent: not a scrape
        assert not exporter.wait_scraped(0.01)
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read().decode()
        assert 'elt_achieved_tps{name="t",namespace="ns",run="r1"} 150.0' in body
        assert exporter.wait_scraped(0.01)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [{}, {"phase": "Pending"}, {"results": None, "progress": None}])
def test_sparse_statuses(status):
    exporter = LoadTestExporter()
    exporter.update("ns", "t", status)
    scrape(exporter)


def test_error_labels_are_sanitised_and_bounded():
    errors = {f"Code{i:02d}": 100 - i for i in range(25)}
    errors['Evil"}\nLabel'] = 1
    exporter = LoadTestExporter()
    exporter.update("ns", "t", {**FULL_STATUS, "results": {**FULL_STATUS["results"],
                                                           "errorsByType": errors}})  # fmt: skip
    labels = {dict(ls)["error_type"] for (n, ls) in scrape(exporter) if n == "elt_failures_total"}
    assert len(labels) == 10 and "other" in labels
    assert all(label.replace("_", "").isalnum() for label in labels), labels
    live = Snapshot(
        at=time.time(),
        status={"state": "measuring"},
        stats={"errors": [{"error": f"X{i} (HTTP 400)", "occurrences": 1} for i in range(30)]},
    )
    exporter.update("ns", "live", LIVE_STATUS, snapshot=live)
    running = {
        dict(ls)["error_type"]: v
        for (n, ls), v in scrape(exporter).items()
        if n == "elt_failures_total" and dict(ls)["name"] == "live"
    }
    assert len(running) == 10 and sum(running.values()) == 30


def test_success_tps_is_exported_beside_tps():
    exporter = LoadTestExporter()
    results = {**FULL_STATUS["results"], "successTps": 145.5}
    exporter.update("ns", "t", {**FULL_STATUS, "results": results})
    assert value(scrape(exporter), "elt_achieved_success_tps") == 145.5
