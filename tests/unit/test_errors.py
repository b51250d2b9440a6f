"""Failure names from real botocore exceptions, and the window's error breakdown."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from endpoint_loadtest.loadgen.errors import (
    CONNECTION_ERROR,
    TIMEOUT,
    RequestFailure,
    classify_boto_error,
    classify_http_status,
    parse_failure_name,
    status_class,
)

URL = "http://127.0.0.1:1"


def client_error(code: str, status: int) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "InvokeEndpoint")


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("ValidationError", 400, "4xx"),
        ("ThrottlingException", 400, "4xx"),
        ("ModelError", 424, "4xx"),
        ("ModelNotReadyException", 429, "4xx"),
        ("InternalFailure", 500, "5xx"),
        ("ServiceUnavailable", 503, "5xx"),
    ],
)
def test_client_errors(code: str, status: int, kind: str) -> None:
    failure = classify_boto_error(client_error(code, status))
    assert failure.name == f"{code} (HTTP {status})"
    assert parse_failure_name(failure.name) == (code, str(status))
    assert status_class(parse_failure_name(failure.name)[1]) == kind


def test_modeled_exception_class_of_a_real_client() -> None:
    client = boto3.client(
        "sagemaker-runtime",
        region_name="us-east-1",
        endpoint_url=URL,
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    error = client.exceptions.ModelError(
        {"Error": {"Code": "ModelError"}, "ResponseMetadata": {"HTTPStatusCode": 424}},
        "InvokeEndpoint",
    )
    assert classify_boto_error(error).name == "ModelError (HTTP 424)"


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (EndpointConnectionError(endpoint_url=URL), CONNECTION_ERROR),
        (ConnectionClosedError(endpoint_url=URL), CONNECTION_ERROR),
        (ConnectionRefusedError(111, "refused"), CONNECTION_ERROR),
        (ReadTimeoutError(endpoint_url=URL), TIMEOUT),
        (ConnectTimeoutError(endpoint_url=URL), TIMEOUT),
        (TimeoutError(), TIMEOUT),
        (ValueError("odd"), "ValueError"),
        (client_error("", 0), "UnknownError"),
    ],
)
def test_transport_errors(error: BaseException, name: str) -> None:
    failure = classify_boto_error(error)
    assert failure.name == name
    assert repr(failure) == str(failure) == name
    assert status_class(parse_failure_name(name)[1]) == "none"


def _client(url: str, **config: object):
    return boto3.session.Session().client(
        "sagemaker-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="a",
        aws_secret_access_key="b",
        config=Config(retries={"max_attempts": 0}, **config),
    )


def _invoke_failure(client) -> RequestFailure:
    try:
        client.invoke_endpoint(EndpointName="ep", Body=b"{}")
    except Exception as error:
        return classify_boto_error(error)
    raise AssertionError("the call succeeded")


def test_closed_port_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        failure = _invoke_failure(_client(f"http://127.0.0.1:{port}", connect_timeout=2))
    assert failure.name == CONNECTION_ERROR


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_silent_server_is_a_timeout(silent_server: int) -> None:
    client = _client(f"http://127.0.0.1:{silent_server}", read_timeout=0.3, connect_timeout=1)
    assert _invoke_failure(client).name == TIMEOUT


def test_http_status_and_names() -> None:
    assert classify_http_status(503).name == "HTTPError (HTTP 503)"
    assert parse_failure_name("Timeout") == ("Timeout", None)
    assert parse_failure_name("weird: text") == ("weird: text", None)
    assert status_class("424") == "4xx"


# Importing locust monkey-patches the whole process with gevent, which must not happen
# inside pytest (other tests use real threads): the window is computed in a subprocess.
WINDOW_SCRIPT = """
import json, sys
from locust.stats import RequestStats
from endpoint_loadtest.loadgen.errors import ErrorSamples, RequestFailure
from endpoint_loadtest.loadgen.latency import WindowLatency, merge_messages
from endpoint_loadtest.loadgen.window_stats import window_result
stats, window, samples = RequestStats(), WindowLatency(), ErrorSamples()
samples.forbid(['{"inputs": "secret words"}'])
fine = sys.argv[3] == "fine"
for method, name, ms, failure in json.loads(sys.argv[1]):
    stats.log_request(method, name, ms, 10)
    phase = "measure" if method == sys.argv[2] else "warmup"
    if fine:
        window.record_call(phase, failure is not None, ms)
    if failure:
        error = RequestFailure(failure, "no such thing: " + '{"inputs": "secret words"}')
        stats.log_error(method, name, error)
        samples.record(phase, error)
histograms = merge_messages([window.to_message()], [window.totals_message()]) if fine else None
print(json.dumps(window_result(stats, sys.argv[2], histograms, samples.to_message())))
"""


def _window(log: list, base: str, fine: bool = False) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", WINDOW_SCRIPT, json.dumps(log), base, "fine" if fine else ""],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def test_window_counts_only_the_measured_phase() -> None:
    log = [
        ("InvokeEndpoint (warmup)", "a", 10.0, None),
        ("InvokeEndpoint (warmup)", "a", 10.0, "ModelError (HTTP 424)"),
        ("InvokeEndpoint", "a", 20.0, None),
        ("InvokeEndpoint", "a", 30.0, None),
        ("InvokeEndpoint", "b", 40.0, "ModelError (HTTP 424)"),
        ("InvokeEndpoint", "b", 50.0, "ServiceUnavailable (HTTP 503)"),
        ("InvokeEndpoint", "b", 60.0, CONNECTION_ERROR),
        ("InvokeEndpoint (done)", "a", 10.0, None),
    ]
    result = _window(log, "InvokeEndpoint", fine=True)
    assert result["requests"] == 5
    assert result["failures"] == 3
    assert result["successes"] == 2
    assert result["errorsByType"] == {
        "ModelError": 1,
        "ServiceUnavailable": 1,
        CONNECTION_ERROR: 1,
    }
    assert result["errorsByStatus"] == {"4xx": 1, "5xx": 1, "none": 1}
    assert result["requestsByPhase"] == {"warmup": 2, "measure": 5, "done": 1}
    assert result["totalRequests"] == 8
    # the successful calls' figures, and the failed ones' beside them
    assert result["latencyMs"] == {
        "p50": 20.0,
        "p90": 30.0,
        "p95": 30.0,
        "p99": 30.0,
        "mean": 25.0,
        "max": 30.0,
    }
    assert result["failureLatencyMs"]["p50"] == 50.0
    assert result["failureLatencyMs"]["max"] == 60.0
    assert result["failureLatencyMs"]["mean"] == 50.0
    # one sample per error type, the request body replaced
    assert result["errorSamples"] == {
        "ModelError": "no such thing: [request]",
        "ServiceUnavailable": "no such thing: [request]",
        CONNECTION_ERROR: "no such thing: [request]",
    }
    # without the workers' fine histograms Locust's buckets mix both: no figures
    coarse = _window(log, "InvokeEndpoint")
    assert coarse["latencyMs"]["p50"] is None and coarse["failureLatencyMs"]["p50"] is None
    clean = _window([e for e in log if e[3] is None], "InvokeEndpoint")
    assert clean["latencyMs"]["p50"] is not None and clean["latencyMs"]["max"] == 30.0


def test_empty_window() -> None:
    result = _window([], "POST")
    assert result["requests"] == 0 and result["totalRequests"] == 0
    assert result["latencyMs"]["p99"] is None and result["latencyMs"]["mean"] is None
