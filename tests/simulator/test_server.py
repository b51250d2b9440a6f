"""`elt simulate` as a subprocess, driven by real boto3 through the standard variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

BODY = b'{"inputs": "I am super happy right now."}'
INJECTED = {
    "ValidationError": 400,
    "ThrottlingException": 400,
    "ModelError": 424,
    "ModelNotReadyException": 429,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
}


def _endpoint(name: str, **variant) -> dict:
    return {"name": name, "variants": [{"overheadMs": 0, **variant}]}


@pytest.fixture
def errors_sim(simulator):
    """One simulator with an endpoint per error shape."""
    endpoints = [
        _endpoint(f"err-{code.lower()}", errors={code: 1.0}, modelErrorStatus=503)
        for code in INJECTED
    ]
    endpoints += [
        _endpoint("ok", serviceTime={"distribution": "constant", "medianMs": 5}),
        _endpoint(
            "two",
            serviceTime={"distribution": "constant", "medianMs": 5},
        )
        | {"variants": [{"name": "A", "weight": 1}, {"name": "B", "weight": 0}]},
        _endpoint(
            "tiny",
            vcpus=1,
            queueDepth=0,
            serviceTime={"distribution": "constant", "medianMs": 300},
        ),
        _endpoint(
            "slow",
            modelTimeoutSeconds=0.05,
            serviceTime={"distribution": "constant", "medianMs": 200},
        ),
        {"name": "limited", "throttle": {"rps": 0.001, "burst": 1}, "variants": [{}]},
    ]
    return simulator(config={"seed": 1, "endpoints": endpoints})


def _error(call) -> ClientError:
    with pytest.raises(ClientError) as info:
        call()
    return info.value


def test_success_has_sagemaker_headers_and_body(errors_sim) -> None:
    client = errors_sim.client()
    response = client.invoke_endpoint(
        EndpointName="ok",
        Body=BODY,
        ContentType="application/json",
        Accept="application/json",
        CustomAttributes="trace-id=42",
    )
    assert json.loads(response["Body"].read()) == [{"label": "POSITIVE", "score": 0.9998}]
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["CustomAttributes"] == "trace-id=42"
    assert len(response["ResponseMetadata"]["RequestId"]) == 36


@pytest.mark.parametrize("code", list(INJECTED))
def test_every_error_code_parses_in_boto3(errors_sim, code: str) -> None:
    client = errors_sim.client()
    error = _error(lambda: client.invoke_endpoint(EndpointName=f"err-{code.lower()}", Body=BODY))
    assert error.response["Error"]["Code"] == code
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == INJECTED[code]
    assert error.response["Error"]["Message"]
    if code == "ModelError":
        assert error.response["OriginalStatusCode"] == 503
        assert error.response["OriginalMessage"]
        assert error.response["LogStreamArn"].startswith("arn:aws:logs:us-east-1:123456789012:")
        assert "Received server error (503) from primary" in error.response["Error"]["Message"]


def test_unknown_endpoint_and_variant_are_validation_errors(errors_sim) -> None:
    client = errors_sim.client()
    error = _error(lambda: client.invoke_endpoint(EndpointName="nope", Body=BODY))
    assert error.response["Error"]["Code"] == "ValidationError"
    assert error.response["Error"]["Message"] == "Endpoint nope of account 123456789012 not found."
    error = _error(lambda: client.invoke_endpoint(EndpointName="two", Body=BODY, TargetVariant="C"))
    assert error.response["Error"]["Code"] == "ValidationError"
    routed = client.invoke_endpoint(EndpointName="two", Body=BODY, TargetVariant="B")
    assert routed["InvokedProductionVariant"] == "B"
    assert client.invoke_endpoint(EndpointName="two", Body=BODY)["InvokedProductionVariant"] == "A"


def test_throttle_overload_and_timeout(errors_sim) -> None:
    client = errors_sim.client()
    client.invoke_endpoint(EndpointName="limited", Body=BODY)  # the one token of the burst
    error = _error(lambda: client.invoke_endpoint(EndpointName="limited", Body=BODY))
    assert error.response["Error"]["Code"] == "ThrottlingException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    # One vCPU, no queue, 300 ms per request: of 4 sent at once, 1 is served. The
    # clients are made first (seconds on a busy machine) and a barrier releases the 4
    # sends together, so they all arrive within the first one's 300 ms.
    clients = [errors_sim.client() for _ in range(4)]
    start = threading.Barrier(4)

    def call(tiny_client):
        start.wait()
        try:
            tiny_client.invoke_endpoint(EndpointName="tiny", Body=BODY)
            return "ok"
        except ClientError as exc:
            return exc.response["Error"]["Code"]

    with ThreadPoolExecutor(4) as pool:
        results = sorted(pool.map(call, clients))
    assert results == ["ServiceUnavailable"] * 3 + ["ok"]

    error = _error(lambda: client.invoke_endpoint(EndpointName="slow", Body=BODY))
    assert error.response["Error"]["Code"] == "ModelError"
    assert error.response["OriginalStatusCode"] == 0
    assert "timed out" in error.response["OriginalMessage"]


def test_auth_failures_as_boto3_sees_them(errors_sim) -> None:
    import boto3
    from botocore.config import Config

    def client(key: str, secret: str):
        return boto3.session.Session().client(
            "sagemaker-runtime",
            endpoint_url=errors_sim.url,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(retries={"max_attempts": 0}),
        )

    error = _error(lambda: client("testing", "wrong").invoke_endpoint(EndpointName="ok", Body=BODY))
    assert error.response["Error"]["Code"] == "InvalidSignatureException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.response["Error"]["Message"].startswith("The request signature we calculated")
    error = _error(lambda: client("other", "testing").invoke_endpoint(EndpointName="ok", Body=BODY))
    assert error.response["Error"]["Code"] == "UnrecognizedClientException"

    request = urllib.request.Request(f"{errors_sim.url}/endpoints/ok/invocations", data=BODY)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 403
    assert info.value.headers["x-amzn-ErrorType"].startswith("MissingAuthenticationToken")

    stats = errors_sim.stats()["endpoints"]["ok"]
    assert stats["auth_failures_by_code"] == {
        "InvalidSignatureException": 1,
        "MissingAuthenticationTokenException": 1,
        "UnrecognizedClientException": 1,
    }
    assert stats["variants"]["AllTraffic"]["requests"] == 0


def test_stats_count_exactly_what_was_served_and_reset(simulator) -> None:
    sim = simulator(
        "--endpoint",
        "counted",
        "--service-time-ms",
        "4",
        "--distribution",
        "constant",
        "--overhead-ms",
        "0",
        "--error-rate",
        "ModelError=0.25",
        "--seed",
        "3",
    )
    client = sim.client()
    outcomes = []
    for _ in range(40):
        try:
            client.invoke_endpoint(EndpointName="counted", Body=BODY)
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])
    stats = sim.stats()
    endpoint = stats["endpoints"]["counted"]
    variant = endpoint["variants"]["AllTraffic"]
    errors = outcomes.count("ModelError")
    assert 0 < errors < 40
    assert endpoint["requests"] == variant["requests"] == 40
    assert variant["successes"] == outcomes.count("ok") == 40 - errors
    assert variant["by_status"] == {"200": 40 - errors, "424": errors}
    assert variant["by_error"] == {"ModelError": errors}
    assert variant["service_ms"]["count"] == 40
    assert variant["service_ms"]["p50"] == pytest.approx(4.0, abs=2.5)
    assert stats["totals"]["requests"] == 40
    sim.reset()
    assert sim.stats()["totals"]["requests"] == 0

    # the same seed gives the same sequence of outcomes
    again = simulator(
        *[
            "--endpoint",
            "counted",
            "--service-time-ms",
            "4",
            "--distribution",
            "constant",
            "--overhead-ms",
            "0",
            "--error-rate",
            "ModelError=0.25",
            "--seed",
            "3",
        ]
    )
    replay = []
    for _ in range(40):
        try:
            again.client().invoke_endpoint(EndpointName="counted", Body=BODY)
            replay.append("ok")
        except ClientError as exc:
            replay.append(exc.response["Error"]["Code"])
    assert replay == outcomes


def test_boto3_found_through_the_standard_variable(simulator) -> None:
    """Real code, unaware of the simulator, aimed at it by AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME."""
    sim = simulator("--overhead-ms", "0")
    script = (
        "import boto3\n"
        "c = boto3.client('sagemaker-runtime')\n"
        "r = c.invoke_endpoint(EndpointName='sim-endpoint', Body=b'{}',"
        " ContentType='application/json')\n"
        "print(r['Body'].read().decode())\n"
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "AWS_PROF"))
    }
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, **sim.env()},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "POSITIVE" in out.stdout
    assert sim.stats()["totals"]["successes"] == 1


def test_ping_and_unknown_route(simulator) -> None:
    sim = simulator("--auth", "none")
    with urllib.request.urlopen(f"{sim.url}/ping", timeout=10) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{sim.url}/nothing", timeout=10)
    assert info.value.code == 404
    request = urllib.request.Request(f"{sim.url}/endpoints/sim-endpoint/invocations", data=b"{}")
    with urllib.request.urlopen(request, timeout=10) as response:  # --auth none: plain HTTP
        assert response.headers["x-Amzn-Invoked-Production-Variant"] == "AllTraffic"
    assert sim.stop() == 0
