"""CloudWatch metrics: what lands in a real moto server, and the datum shapes."""

from __future__ import annotations

import datetime as dt
import random
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from endpoint_loadtest.simulator.config import EndpointConfig, VariantConfig
from endpoint_loadtest.simulator.metrics import PeriodSnapshot, VariantPeriod, build_metric_data
from endpoint_loadtest.simulator.model import Endpoint

BODY = b'{"inputs": "I am super happy right now."}'


def _query(cloudwatch, namespace: str, metric: str, endpoint: str, stat: str) -> float | None:
    now = time.time()
    start = dt.datetime.fromtimestamp((now // 60 - 10) * 60, tz=dt.UTC)
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": metric,
                        "Dimensions": [
                            {"Name": "EndpointName", "Value": endpoint},
                            {"Name": "VariantName", "Value": "AllTraffic"},
                        ],
                    },
                    "Period": 3600,
                    "Stat": stat,
                },
            }
        ],
        StartTime=start,
        EndTime=start + dt.timedelta(hours=1),
    )["MetricDataResults"][0]
    return result["Values"][0] if result["Values"] else None


def test_metrics_land_in_moto_with_the_served_values(simulator, moto_server) -> None:
    name = "cw-endpoint"
    sim = simulator(
        *("--endpoint", name, "--instances", "2", "--metrics-period", "2", "--seed", "5"),
        *("--service-time-ms", "10", "--distribution", "constant", "--overhead-ms", "1"),
        *("--error-rate", "ModelError=0.2"),
        cloudwatch_url=moto_server,
    )
    client = sim.client()
    errors = 0
    for _ in range(30):
        try:
            client.invoke_endpoint(EndpointName=name, Body=BODY)
        except ClientError:
            errors += 1
    truth = sim.stats()["endpoints"][name]["variants"]["AllTraffic"]
    assert sim.stop() == 0  # SIGTERM flushes the partial last period

    cloudwatch = boto3.client(
        "cloudwatch",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def metric(metric_name: str, stat: str, namespace: str = "AWS/SageMaker"):
        return _query(cloudwatch, namespace, metric_name, name, stat)

    assert metric("Invocations", "Sum") == 30
    assert metric("InvocationsPerInstance", "Sum") == pytest.approx(15)
    assert metric("Invocation5XXErrors", "Sum") == errors == truth["by_error"].get("ModelError", 0)
    assert metric("InvocationModelErrors", "Sum") == errors
    assert metric("Invocation4XXErrors", "Sum") == 0
    assert metric("Invocation5XXErrors", "Average") == pytest.approx(errors / 30)
    assert metric("ModelLatency", "SampleCount") == 30
    assert metric("ModelLatency", "Average") == pytest.approx(
        truth["model_latency_ms"]["mean"] * 1000, rel=1e-6
    )
    assert 9_999 <= metric("ModelLatency", "Minimum") < 20_000
    assert metric("OverheadLatency", "Average") == pytest.approx(1000)
    cpu = metric("CPUUtilization", "Maximum", "/aws/sagemaker/Endpoints")
    assert cpu is not None and 0 < cpu <= 400
    memory = metric("MemoryUtilization", "Average", "/aws/sagemaker/Endpoints")
    assert memory is not None and 35 <= memory <= 100


def test_publishing_failures_are_logged_and_serving_goes_on(simulator) -> None:
    from simfixtures import free_port

    sim = simulator("--metrics-period", "0.5", cloudwatch_url=f"http://127.0.0.1:{free_port()}")
    deadline = time.monotonic() + 20
    while "PutMetricData" not in sim.log() and time.monotonic() < deadline:
        time.sleep(0.1)  # waiting for the first period's publish attempt to fail
    assert "PutMetricData" in sim.log()
    assert "testing" not in sim.log()  # never log credentials
    sim.client().invoke_endpoint(EndpointName=sim.endpoint, Body=BODY)
    assert sim.stop() == 0


def _endpoint() -> dict[str, Endpoint]:
    config = EndpointConfig("e", (VariantConfig(instances=2),))
    return {"e": Endpoint(config, seed=1, now=0.0)}


def _snapshot() -> PeriodSnapshot:
    period = VariantPeriod(
        invocations=4,
        errors_5xx=1,
        model_errors=1,
        model_latency_us=[random.Random(i).uniform(1e4, 9e4) for i in range(400)],
        overhead_us=[1000.0] * 4,
    )
    return PeriodSnapshot(
        start=1_700_000_040.0,
        end=1_700_000_100.0,
        variants={("e", "AllTraffic"): period},
        cpu_percent={("e", "AllTraffic"): [120.0, 80.0]},
        memory_percent={("e", "AllTraffic"): [40.0, 38.0]},
    )


def test_statistics_format_shapes() -> None:
    data = build_metric_data(_snapshot(), _endpoint(), "statistics")
    by_name = {d["MetricName"]: d for d in data["AWS/SageMaker"]}
    assert by_name["Invocations"]["StatisticValues"]["Sum"] == 4
    assert by_name["Invocation5XXErrors"]["StatisticValues"] == {
        "SampleCount": 4.0,
        "Sum": 1.0,
        "Minimum": 0.0,
        "Maximum": 1.0,
    }
    assert by_name["InvocationsPerInstance"]["StatisticValues"]["Sum"] == 2.0
    assert by_name["ModelLatency"]["Unit"] == "Microseconds"
    assert by_name["ModelLatency"]["Timestamp"] == dt.datetime.fromtimestamp(
        1_700_000_040, tz=dt.UTC
    )
    cpu = {d["MetricName"]: d for d in data["/aws/sagemaker/Endpoints"]}["CPUUtilization"]
    assert cpu["StatisticValues"] == {
        "SampleCount": 2.0,
        "Sum": 200.0,
        "Minimum": 80.0,
        "Maximum": 120.0,
    }


def test_values_format_fits_cloudwatch_limits() -> None:
    data = build_metric_data(_snapshot(), _endpoint(), "values")
    latency = [d for d in data["AWS/SageMaker"] if d["MetricName"] == "ModelLatency"]
    assert sum(sum(d["Counts"]) for d in latency) == 400
    assert all(len(d["Values"]) <= 150 for d in latency)
    for value in latency[0]["Values"]:
        assert float(f"{value:.3g}") == value  # 3 significant digits
    errors = next(d for d in data["AWS/SageMaker"] if d["MetricName"] == "Invocation5XXErrors")
    assert dict(zip(errors["Values"], errors["Counts"], strict=True)) == {1.0: 1.0, 0.0: 3.0}
