"""A real Prometheus server scrapes `elt run --metrics-port` during an end-to-end run.

Debian's prometheus package (hack/prometheus.sh installs it when missing); the
simulator serves the endpoint and publishes its CloudWatch metrics to moto (extended
with percentiles, see conftest). PromQL through Prometheus's HTTP API must return the
test's TPS, p99 and CloudWatch figures with the values written in result.json.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from conftest import load_test, run_elt
from promfixtures import prometheus_binary


def test_prometheus_scrapes_a_run(prometheus, simulator, moto_percentiles, tmp_path):
    sim = simulator(
        "--endpoint", "prom-e2e", "--metrics-period", "1", "--metrics-format", "values",
        "--seed", "11",
        cloudwatch_url=moto_percentiles,
    )  # fmt: skip
    doc = load_test(
        "prom-e2e",
        sim.endpoint,
        thresholds={
            "minRequests": 10,
            "latencyMs": {"p99": 2000},
            "cloudwatch": {"modelLatencyMs": {"p99": 2000}, "max5xxRate": 0.5},
        },
        cloudwatch={"enabled": True, "period": 1, "instanceVcpus": 4, "lastPeriodTimeout": "20s"},
    )
    began = time.monotonic()
    proc, document = run_elt(
        doc,
        tmp_path,
        {**sim.env(), "AWS_ENDPOINT_URL_CLOUDWATCH": moto_percentiles},
        "--metrics-port",
        str(prometheus.target_port),
    )
    elapsed = time.monotonic() - began
    status = document["status"]
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{status.get('verdict')}"
    assert f"metrics: http://127.0.0.1:{prometheus.target_port}/metrics" in proc.stdout
    assert "the final figures were not scraped" not in proc.stdout
    results, run = status["results"], status["runId"]
    selector = f'namespace="default", name="prom-e2e", run="{run}"'

    # Final figures: Prometheus keeps the last scrape; the target is gone now, so read
    # the newest sample in a range (an instant vector would see the staleness marker).
    tps = prometheus.value(f"last_over_time(elt_achieved_tps{{{selector}}}[5m])")
    assert tps == pytest.approx(results["tps"])
    p99 = prometheus.value(
        f'last_over_time(elt_response_time_seconds{{{selector}, percentile="p99"}}[5m])'
    )
    assert p99 == pytest.approx(results["latencyMs"]["p99"] / 1000)
    verdict = prometheus.value(
        f'last_over_time(elt_test_verdict{{{selector}, verdict="Passed"}}[5m])'
    )
    assert verdict == 1

    # The endpoint's CloudWatch figures, in status and through Prometheus.
    cloudwatch = results["cloudwatch"]
    # Exactly what the endpoint served in the periods read (they may take in requests
    # just outside the window: the periods are whole seconds).
    served = sim.invocations_between("prom-e2e", cloudwatch["start"], cloudwatch["end"])
    assert cloudwatch["invocations"] == served
    assert served >= results["requests"] - 4  # less, at most, the 4 users' calls in flight
    assert cloudwatch["complete"] is True
    invocations = prometheus.value(
        f"last_over_time(elt_endpoint_invocations_total{{{selector}}}[5m])"
    )
    assert invocations == cloudwatch["invocations"]
    model_p99 = prometheus.value(
        f'last_over_time(elt_endpoint_model_latency_seconds{{{selector}, percentile="p99"}}[5m])'
    )
    assert model_p99 == pytest.approx(cloudwatch["modelLatencyMs"]["p99"] / 1000)
    checks = {c["name"]: c for c in status["verdict"]["checks"]}
    assert checks["cloudwatch.modelLatencyMs.p99"]["passed"]
    assert checks["cloudwatch.max5xxRate"]["observed"] == cloudwatch["error5xxRate"]
    condition = next(c for c in status["conditions"] if c["type"] == "CloudWatchAvailable")
    assert condition["status"] == "True", condition
    assert "CloudWatch prom-e2e/AllTraffic" in proc.stdout  # shown under the verdict table

    # Live figures were scraped while it ran.
    running = prometheus.value(f'max_over_time(elt_test_phase{{{selector}, phase="Running"}}[5m])')
    assert running == 1
    # (Locust's current RPS lags workers' 3-second reports: too slow for a 3 s window.)
    users = prometheus.value(f"max_over_time(elt_users{{{selector}}}[5m])")
    assert users == 4
    connected = prometheus.value(f"max_over_time(elt_workers_connected{{{selector}}}[5m])")
    assert connected == 1
    total = sim.stats()["endpoints"]["prom-e2e"]["requests"]
    print(
        f"elt run with CloudWatch and Prometheus: {elapsed:.1f}s; CloudWatch Invocations "
        f"{cloudwatch['invocations']:g} = served in the periods read {served} (whole run "
        f"{total}, window {results['requests']})"
    )


def test_promtool_finds_nothing_to_lint():
    """Prometheus's own linter (promtool, from the same package) on a full exposition."""
    from prometheus_client import generate_latest
    from test_exporter import FULL_SPEC, FULL_STATUS, LIVE_SNAPSHOT, LIVE_STATUS, registry_with

    from endpoint_loadtest.observability.exporter import LoadTestExporter

    promtool = Path(prometheus_binary()).with_name("promtool")
    exporter = LoadTestExporter()
    exporter.update("ns", "done", FULL_STATUS, spec=FULL_SPEC)
    exporter.update("ns", "running", LIVE_STATUS, snapshot=LIVE_SNAPSHOT, spec=FULL_SPEC)
    text = generate_latest(registry_with(exporter))
    proc = subprocess.run(
        [str(promtool), "check", "metrics"], input=text, capture_output=True, timeout=30
    )
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
