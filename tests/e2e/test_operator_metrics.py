"""The operator's /metrics scraped by a real Prometheus during an end-to-end run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import apply, load_test, wait_for_phase

from conftest import OperatorProcess, operator_env, release_unfinished_tests

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]


@pytest.fixture
def cloudwatch_endpoint(simulator: Any, moto_server: str, kube_cluster: Any, namespace: str) -> Any:
    """A simulated endpoint that publishes its CloudWatch metrics to moto every second."""
    sim = simulator(
        "--instances", "2", "--service-time-ms", "10", "--metrics-period", "1",
        "--host", kube_cluster.host_address, cloudwatch_url=moto_server,
    )  # fmt: skip
    env = sim.env()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "aws-sim"},
        "stringData": {
            key: env[key]
            for key in (
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"
            )
        },
    }  # fmt: skip
    apply(kube_cluster, namespace, secret)
    return sim


@pytest.fixture
def operator_with_metrics(
    kube_cluster: Any,
    namespace: str,
    crd_installed: None,
    prometheus: Any,
    cloudwatch_endpoint: Any,
    moto_server: str,
    tmp_path: Path,
) -> Iterator[OperatorProcess]:
    # The operator reads CloudWatch with its own identity (here moto's dummy keys), and
    # so only for the endpoints its settings allow.
    env = operator_env(kube_cluster) | {
        "ELT_CLOUDWATCH_ALLOWED_ENDPOINTS": f"us-east-1/{cloudwatch_endpoint.endpoint}",
        "ELT_METRICS_ADDRESS": f"127.0.0.1:{prometheus.target_port}",
        "AWS_ENDPOINT_URL_CLOUDWATCH": moto_server,
        "AWS_ACCESS_KEY_ID": cloudwatch_endpoint.env()["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": cloudwatch_endpoint.env()["AWS_SECRET_ACCESS_KEY"],
    }
    operator = OperatorProcess(namespace, tmp_path / "operator.log", env)
    operator.start()
    yield operator
    operator.stop()
    release_unfinished_tests(kube_cluster, namespace)


def test_prometheus_reads_the_tests_tps_and_p99_from_the_operator(
    kube_cluster: Any,
    namespace: str,
    operator_with_metrics: OperatorProcess,
    cloudwatch_endpoint: Any,
    prometheus: Any,
) -> None:
    document = load_test("observed", cloudwatch_endpoint.endpoint, duration="4s")
    document["spec"]["cloudwatch"] = {"enabled": True, "period": 1, "lastPeriodTimeout": "20s"}
    apply(kube_cluster, namespace, document)
    status = wait_for_phase(kube_cluster, namespace, "observed", ("Completed", "Error"))["status"]
    assert status["phase"] == "Completed", status.get("message")
    results = status["results"]
    selector = f'namespace="{namespace}", name="observed", run="{status["runId"]}"'
    tps = prometheus.value(f"last_over_time(elt_achieved_tps{{{selector}}}[5m])", timeout=30)
    assert tps == pytest.approx(results["tps"])
    p99 = prometheus.value(
        f'last_over_time(elt_response_time_seconds{{{selector}, percentile="p99"}}[5m])'
    )
    assert p99 == pytest.approx(results["latencyMs"]["p99"] / 1000)
    running = prometheus.value(f'max_over_time(elt_test_phase{{{selector}, phase="Running"}}[5m])')
    assert running == 1
    # CloudWatch's count is exactly what the endpoint served in the periods read (whole
    # seconds around the window), and at least the window's count less the 4 users'
    # requests still in flight when it closed.
    cloudwatch = results["cloudwatch"]
    served = cloudwatch_endpoint.invocations_between(
        cloudwatch_endpoint.endpoint, cloudwatch["start"], cloudwatch["end"]
    )
    assert cloudwatch["invocations"] == served
    assert served >= results["requests"] - 4
    conditions = {c["type"]: c for c in status["conditions"]}
    assert "CloudWatchAvailable" in conditions
