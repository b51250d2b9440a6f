"""The scraper against moto's CloudWatch server, fed by the simulator's published metrics.

- `moto_server` (plain moto, a separate process): every standard statistic; moto cannot
  compute percentiles, so those come back missing with the reason, and the rest stand.
- `moto_percentiles` (moto extended in the fixture, see conftest): the percentiles too,
  checked against the simulator's exact counters.
"""

from __future__ import annotations

import time

import pytest

from endpoint_loadtest.api.models import EndpointLoadTestSpec
from endpoint_loadtest.observability import cloudwatch as cw

REQUESTS = 60


def spec(endpoint: str, **cloudwatch) -> EndpointLoadTestSpec:
    return EndpointLoadTestSpec.model_validate(
        {
            "target": {"sagemaker": {"endpointName": endpoint, "region": "us-east-1"}},
            "payload": {"body": "{}"},
            "load": {"users": 1, "duration": "1s"},
            "cloudwatch": {"enabled": True, "period": 1, "instanceVcpus": 4, **cloudwatch},
        }
    )


PERIOD = 1.0  # the simulator's --metrics-period and the spec's cloudwatch.period
BOUNDARY_GUARD = 0.25  # seconds; far more than one request's round trip here


def clear_of_boundary() -> None:
    """Before the last request: if a period boundary is near, wait until it has passed.

    The scraper waits for the Invocations of the period holding the window's end (a load
    that ran until the end has some there). This drive is sequential and the simulator
    counts a response in the period it sends it in: a last response sent just before a
    boundary and received just after it leaves the window's last period without
    invocations, and the scraper would wait `lastPeriodTimeout` (3 min) for them. Sent
    clear of a boundary, the last request is counted in the window's last period."""
    now = time.time()
    boundary = (now // PERIOD + 1) * PERIOD
    if boundary - now < BOUNDARY_GUARD:
        time.sleep(boundary - now + 0.01)


def drive(sim, count: int) -> tuple[float, float]:
    """`count` InvokeEndpoint calls; returns when they started and ended."""
    client = sim.client()
    start = time.time()
    for i in range(count):
        if i == count - 1:
            clear_of_boundary()
        client.invoke_endpoint(EndpointName=sim.endpoint, Body=b"{}")
    end = time.time()
    return start, end


def test_standard_statistics_from_plain_moto(simulator, moto_server, aws_env):
    from simfixtures import moto_reset

    moto_reset(moto_server)
    sim = simulator(
        "--endpoint",
        "cw-plain",
        "--metrics-period",
        "1",
        "--seed",
        "3",
        "--error-rate",
        "InternalFailure=0.1",
        cloudwatch_url=moto_server,
    )
    start, end = drive_tolerant(sim, REQUESTS)
    truth = sim.stats()["endpoints"][sim.endpoint]["variants"]["AllTraffic"]
    aws_env(moto_server)

    # The end-of-test wait against a real server: the simulator publishes each period
    # when it closes, so the scrape waits for the window's last period.
    scrape, decision = cw.final_scrape(spec(sim.endpoint), start, end)
    assert "has published" in decision.message
    assert sim.stop() == 0

    figures = scrape.figures
    assert figures is not None, scrape.reason
    assert figures.complete
    assert figures.invocations == truth["requests"] == REQUESTS
    assert figures.invocation_5xx_errors == truth["by_status"].get("500", 0) > 0
    assert figures.invocation_4xx_errors == 0
    assert figures.error_5xx_rate == pytest.approx(
        figures.invocation_5xx_errors / REQUESTS, abs=1e-6
    )
    # Microseconds in CloudWatch, milliseconds in status: Average = Sum / SampleCount.
    assert figures.model_latency_ms.average == pytest.approx(
        truth["model_latency_ms"]["mean"], abs=0.01
    )
    assert figures.overhead_latency_ms.average == pytest.approx(2.0, abs=0.01)
    assert figures.cpu_utilization_percent is not None and figures.cpu_utilization_percent > 0
    assert figures.instance_cpu_percent == pytest.approx(
        figures.cpu_utilization_percent / 4, abs=0.01
    )
    assert figures.saturated is False
    assert figures.memory_utilization_percent >= 35  # the simulator's base memory
    assert figures.gpu_utilization_percent is None  # a CPU endpoint: no GPU metrics
    # moto cannot compute percentiles: they are missing, and the scrape says why.
    assert figures.model_latency_ms.p99 is None
    assert scrape.problem is not None and "percentiles" in scrape.problem.message
    condition = scrape.condition()
    assert (condition.status, condition.reason) == ("True", "Partial")
    assert "percentiles" in condition.message


def drive_tolerant(sim, count: int) -> tuple[float, float]:
    """Like drive(), but injected InternalFailures are expected answers, not test errors."""
    from botocore.exceptions import ClientError

    client = sim.client()
    start = time.time()
    for i in range(count):
        if i == count - 1:
            clear_of_boundary()
        try:
            client.invoke_endpoint(EndpointName=sim.endpoint, Body=b"{}")
        except ClientError as error:
            assert error.response["Error"]["Code"] == "InternalFailure"
    return start, time.time()


def test_percentiles_from_moto_extended(simulator, moto_percentiles, aws_env):
    sim = simulator(
        "--endpoint",
        "cw-pct",
        "--metrics-period",
        "1",
        "--metrics-format",
        "values",
        "--seed",
        "5",
        cloudwatch_url=moto_percentiles,
    )
    start, end = drive(sim, REQUESTS)
    truth = sim.stats()["endpoints"][sim.endpoint]["variants"]["AllTraffic"]
    aws_env(moto_percentiles)
    # The end-of-test wait, as in the product: the simulator publishes each period in
    # order once it closes, so once the window's last period is there, all of it is.
    # A count short of REQUESTS is then a loss, reported as such (no waiting it away).
    scrape, decision = cw.final_scrape(spec(sim.endpoint), start, end)
    assert "has published" in decision.message
    assert sim.stop() == 0

    figures = scrape.figures
    assert figures is not None and scrape.problem is None, scrape.reason
    assert figures.invocations == REQUESTS, f"{figures}\nsimulator log:\n{sim.log()[-4000:]}"
    exact = truth["model_latency_ms"]
    # The simulator rounds latencies to 3 significant digits for Values/Counts.
    for key in ("p50", "p90", "p99"):
        assert getattr(figures.model_latency_ms, key) == pytest.approx(exact[key], rel=0.01)
    assert figures.overhead_latency_ms.p99 == pytest.approx(2.0, rel=0.01)
    assert scrape.condition().reason == "Scraped"


def test_no_data_is_a_reason_not_an_error(moto_server, aws_env):
    aws_env(moto_server)
    now = time.time()
    scrape = cw.scrape_window(spec("never-invoked"), now - 30, now - 20)
    figures, reason = scrape
    assert figures is None
    assert scrape.problem.code == "NoData" and "never-invoked" in reason
    assert scrape.retryable
    condition = scrape.condition()
    assert (condition.status, condition.reason) == ("False", "NoData")
    assert "Locust figures alone" in condition.message


def test_unreachable_cloudwatch(aws_env):
    from simfixtures import free_port

    aws_env(f"http://127.0.0.1:{free_port()}")
    now = time.time()
    scrape = cw.scrape_window(spec("x"), now - 10, now)
    assert scrape.figures is None and scrape.problem.code == "Unreachable"
