"""CloudWatch denied: the run still ends with a Locust-based verdict, and says why.

moto's server with IAM enforcement on (after the set-up calls): the load test's identity
is an IAM user without cloudwatch:GetMetricData, so CloudWatch answers AccessDenied,
as it would for a pod whose role lacks the permission.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import boto3
import pytest

from conftest import load_test, run_elt
from simfixtures import _clean_env, _watch_lines, free_port


@pytest.fixture(scope="module")
def moto_iam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """moto with IAM enforced after two calls (which create the user and its key).

    Yields the URL and the user's credentials."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_clean_env({"INITIAL_NO_AUTH_ACTION_COUNT": "2"}),
    )
    try:
        log = tmp_path_factory.mktemp("moto-iam") / "moto.log"
        _watch_lines(proc.stderr, lambda line: "Running on" in line, 30.0, proc, log)
        url = f"http://127.0.0.1:{port}"
        iam = boto3.session.Session().client(
            "iam",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        iam.create_user(UserName="locust-no-cloudwatch")
        key = iam.create_access_key(UserName="locust-no-cloudwatch")["AccessKey"]
        yield (
            url,
            {
                "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            },
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_denied_cloudwatch_leaves_a_locust_verdict(moto_iam, simulator, tmp_path):
    url, credentials = moto_iam
    sim = simulator(
        "--endpoint", "denied",
        "--access-key-id", credentials["AWS_ACCESS_KEY_ID"],
        "--secret-access-key", credentials["AWS_SECRET_ACCESS_KEY"],
    )  # fmt: skip
    doc = load_test(
        "denied",
        sim.endpoint,
        thresholds={"minRequests": 10, "cloudwatch": {"modelLatencyMs": {"p99": 500}}},
        cloudwatch={"enabled": True, "period": 1, "lastPeriodTimeout": "60s"},
    )
    began = time.monotonic()
    proc, document = run_elt(
        doc, tmp_path, {**sim.env(), **credentials, "AWS_ENDPOINT_URL_CLOUDWATCH": url}
    )
    elapsed = time.monotonic() - began
    status = document["status"]

    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    verdict = status["verdict"]
    assert verdict["result"] == "Passed"
    assert not [c for c in verdict["checks"] if c["name"].startswith("cloudwatch.")]
    assert "CloudWatch checks not judged" in verdict["message"]
    assert "cloudwatch" not in status["results"]
    assert status["results"]["requests"] >= 10
    condition = next(c for c in status["conditions"] if c["type"] == "CloudWatchAvailable")
    assert (condition["status"], condition["reason"]) == ("False", "AccessDenied")
    assert "cloudwatch:GetMetricData" in condition["message"]
    assert "not authorized" in condition["message"]  # what CloudWatch (moto) said
    assert "Locust figures alone" in condition["message"]
    assert "CloudWatch figures are missing" in proc.stdout
    # A denial is final: no end-of-test wait for the last period (lastPeriodTimeout 60s).
    assert elapsed < 45, elapsed
