"""The fast signed client: the request boto3 would send, signed so AWS would accept it."""

from __future__ import annotations

import copy
import datetime
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials, RefreshableCredentials
from multidict import CIMultiDict

from endpoint_loadtest.api.loader import parse_document
from endpoint_loadtest.engine.plan import Placement, build_plan
from endpoint_loadtest.loadgen import sigv4_client as sig
from endpoint_loadtest.loadgen.config import parse_plan
from endpoint_loadtest.simulator.sigv4 import AuthError, SigV4Verifier

KEY, SECRET, REGION = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1"
NOW = 1_767_225_600.0 + 3723.4  # 2026-01-01T01:02:03Z
INVOKE = {
    "EndpointName": "my-endpoint",
    "ContentType": "application/json",
    "Accept": "application/json",
    "CustomAttributes": "trace=1,b= 2",
    "TargetVariant": "Blue",
    "InferenceComponentName": "ic-1",
}
BODY = b'{"inputs": "I am super happy right now."}'


class CaptureServer:
    """A loopback HTTP/1.1 server that records each request's head and body, answers 200."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests: list[tuple[str, list[tuple[str, str]], bytes]] = []
        self.received = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
                length = int(dict((k.lower(), v) for k, v in headers).get("content-length", 0))
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                body, buffer = buffer[:length], buffer[length:]
                with self.received:
                    self.requests.append((lines[0], headers, body))  # type: ignore[arg-type]
                    self.received.notify_all()
                answer = b"[1]"
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(answer)}\r\n\r\n".encode()
                    + answer
                )

    def wait_for(self, count: int) -> None:
        with self.received:
            assert self.received.wait_for(lambda: len(self.requests) >= count, timeout=10)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    server = CaptureServer()
    yield server
    server.close()


def boto_client(url: str, credentials: dict[str, str] | None = None) -> Any:
    creds = credentials or {"aws_access_key_id": KEY, "aws_secret_access_key": SECRET}
    return boto3.session.Session().client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name=REGION,
        config=Config(retries={"max_attempts": 0}),
        **creds,
    )


def signer_for(url: str, clock=lambda: NOW, **creds: str) -> sig.FastSigner:
    client = boto_client(url)
    template = sig.template_from_botocore(client, INVOKE)
    credentials = Credentials(
        creds.get("key", KEY), creds.get("secret", SECRET), creds.get("token")
    )
    return sig.FastSigner(template, credentials, REGION, clock=clock)


def send_fast(url: str, signer: sig.FastSigner, body: bytes) -> Any:
    from geventhttpclient import URL, HTTPClient

    client = HTTPClient.from_url(URL(url), concurrency=2)
    try:
        headers = signer.headers(sig.payload_hash(body))
        response = client.request("POST", signer.template.path, body=body, headers=headers)
        return response.status_code, dict(response.items()), response.read()
    finally:
        client.close()


def test_wire_headers_equal_boto3_apart_from_date_signature_and_id(
    capture: CaptureServer,
) -> None:
    boto_client(capture.url).invoke_endpoint(Body=BODY, **INVOKE)
    send_fast(capture.url, signer_for(capture.url, clock=__import__("time").time), BODY)
    capture.wait_for(2)
    (boto_line, boto_headers, boto_body), (fast_line, fast_headers, fast_body) = capture.requests
    assert fast_line == boto_line == "POST /endpoints/my-endpoint/invocations HTTP/1.1"
    assert fast_body == boto_body == BODY
    varying = {"x-amz-date", "authorization", "amz-sdk-invocation-id"}

    def fixed(headers: list[tuple[str, str]]) -> dict[str, str]:
        return {k.lower(): v for k, v in headers if k.lower() not in varying}

    # urllib3 asks for identity encoding on its own; a server treats absence the same.
    boto_fixed = fixed(boto_headers)
    if boto_fixed.get("accept-encoding") == "identity":
        del boto_fixed["accept-encoding"]
    assert fixed(fast_headers) == boto_fixed
    assert {k.lower() for k, _ in fast_headers} >= varying
    boto_auth = dict((k.lower(), v) for k, v in boto_headers)["authorization"]
    fast_auth = dict((k.lower(), v) for k, v in fast_headers)["authorization"]
    assert boto_auth.split("Signature=")[0] == fast_auth.split("Signature=")[0]


def test_signature_equals_botocores_own_signer() -> None:
    signer = signer_for("https://runtime.sagemaker.eu-west-1.amazonaws.com")
    headers = signer.headers(sig.payload_hash(BODY))
    request = AWSRequest(
        method="POST",
        url=signer.template.url,
        data=BODY,
        headers={
            k: v
            for k, v in headers.items()
            if k not in ("Authorization", "amz-sdk-invocation-id", "amz-sdk-request")
            and k.lower() != "user-agent"
        },
    )
    request.context["timestamp"] = "20260101T010203Z"
    auth = SigV4Auth(Credentials(KEY, SECRET), "sagemaker", REGION)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    assert headers["X-Amz-Date"] == "20260101T010203Z"
    assert headers["Authorization"].endswith(f"Signature={expected}")
    assert "SignedHeaders=accept;content-type;host;x-amz-date;" in headers["Authorization"]


def _verify(verifier: SigV4Verifier, headers: dict[str, str], body: bytes, path: str) -> str:
    mapping = CIMultiDict(headers)
    return verifier.verify("POST", path, "", mapping, mapping.getall, body)


@pytest.mark.parametrize("token", [None, "session-token/with+odd=chars"])
def test_simulator_verifier_accepts_it_and_rejects_a_changed_body(token: str | None) -> None:
    signer = (
        signer_for("http://127.0.0.1:8080", token=token)
        if token
        else signer_for("http://127.0.0.1:8080")
    )
    verifier = SigV4Verifier({KEY: SECRET}, region=REGION, clock=lambda: NOW)
    path = signer.template.path
    for body in (BODY, b"", b"x" * 100_000):
        headers = signer.headers(sig.payload_hash(body))
        assert _verify(verifier, headers, body, path) == KEY
        assert (headers.get("X-Amz-Security-Token") == token) and (
            ("x-amz-security-token" in headers["Authorization"]) == bool(token)
        )
    with pytest.raises(AuthError, match="InvalidSignature"):
        _verify(verifier, signer.headers(sig.payload_hash(BODY)), BODY + b" ", path)


def test_signature_is_reused_within_a_second_and_new_each_second() -> None:
    now = [NOW]
    signer = signer_for("http://127.0.0.1:8080", clock=lambda: now[0])
    h = sig.payload_hash(BODY)
    first, again = signer.headers(h), signer.headers(h)
    assert first["Authorization"] == again["Authorization"]
    assert first["amz-sdk-invocation-id"] != again["amz-sdk-invocation-id"]
    now[0] += 1
    later = signer.headers(h)
    assert later["X-Amz-Date"] == "20260101T010204Z"
    assert later["Authorization"] != first["Authorization"]
    verifier = SigV4Verifier({KEY: SECRET}, region=REGION, clock=lambda: now[0])
    assert _verify(verifier, later, BODY, signer.template.path) == KEY


def test_expiring_credentials_are_refreshed_through_botocore(monkeypatch) -> None:
    """Credentials about to expire (IRSA, instance profile) are refreshed, then used."""
    monkeypatch.setattr(sig.FastSigner, "CREDENTIALS_CHECK_SECONDS", 0.0)
    utc = datetime.UTC
    soon = datetime.datetime.now(utc) + datetime.timedelta(minutes=20)
    refreshed = []

    def refresh() -> dict[str, str]:
        refreshed.append(1)
        return {
            "access_key": "AKIDNEW",
            "secret_key": "new-secret",
            "token": "new-token",
            "expiry_time": (soon + datetime.timedelta(hours=1)).isoformat(),
        }

    creds = RefreshableCredentials.create_from_metadata(
        {"access_key": KEY, "secret_key": SECRET, "token": "old", "expiry_time": soon.isoformat()},
        refresh,
        "test",
    )
    client = boto_client("http://127.0.0.1:8080")
    now = [NOW]
    signer = sig.FastSigner(
        sig.template_from_botocore(client, INVOKE), creds, REGION, clock=lambda: now[0]
    )
    verifier = SigV4Verifier({KEY: SECRET, "AKIDNEW": "new-secret"}, clock=lambda: now[0])
    headers = signer.headers(sig.payload_hash(BODY))
    assert _verify(verifier, headers, BODY, signer.template.path) == KEY
    assert headers["X-Amz-Security-Token"] == "old" and not refreshed
    # Ten minutes before expiry botocore must refresh: the next second signs with the new key.
    creds._expiry_time = datetime.datetime.now(utc) + datetime.timedelta(minutes=5)
    now[0] += 1
    headers = signer.headers(sig.payload_hash(BODY))
    assert refreshed
    assert _verify(verifier, headers, BODY, signer.template.path) == "AKIDNEW"
    assert headers["X-Amz-Security-Token"] == "new-token"


def test_against_the_simulator_process(simulator) -> None:
    sim = simulator("--service-time-ms", "1", "--overhead-ms", "0", "--region", REGION)
    signer = sig.FastSigner(
        sig.template_from_botocore(boto_client(sim.url), {"EndpointName": sim.endpoint}),
        Credentials(sim.access_key_id, sim.secret_access_key),
        REGION,
    )
    for _ in range(5):
        status, _, data = send_fast(sim.url, signer, BODY)
        assert status == 200 and data
    bad = sig.FastSigner(signer.template, Credentials(sim.access_key_id, "wrong-secret"), REGION)
    status, headers, data = send_fast(sim.url, bad, BODY)
    failure = sig.classify_aws_error(status, headers.get("x-amzn-ErrorType"), data)
    assert str(failure) == "InvalidSignatureException (HTTP 403)"
    missing = sig.FastSigner(
        sig.template_from_botocore(boto_client(sim.url), {"EndpointName": "nope"}),
        Credentials(sim.access_key_id, sim.secret_access_key),
        REGION,
    )
    status, headers, data = send_fast(sim.url, missing, BODY)
    assert str(sig.classify_aws_error(status, headers.get("x-amzn-ErrorType"), data)) == (
        "ValidationError (HTTP 400)"
    )
    totals = sim.stats()["totals"]
    assert json.dumps(totals)  # the simulator counted them
    assert sim.stats()["endpoints"][sim.endpoint]["successes"] == 5


DOC: dict[str, Any] = {
    "apiVersion": "perf.elt.dev/v1alpha1",
    "kind": "EndpointLoadTest",
    "metadata": {"name": "t"},
    "spec": {
        "target": {"sagemaker": {"endpointName": "ep", "region": REGION}},
        "payload": {"body": '{"inputs": "x"}'},
        "load": {"users": 2, "duration": "10s"},
    },
}


@pytest.mark.parametrize(
    ("client", "expected"), [(None, "FastSageMakerUser"), ("boto3", "SageMakerBoto3User")]
)
def test_spec_selects_the_client(monkeypatch, tmp_path: Path, client, expected) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    doc = copy.deepcopy(DOC)
    if client:
        doc["spec"]["load"]["client"] = client
    plan = build_plan(
        parse_document(doc).spec,
        name="t",
        run_id="r",
        placement=Placement(plan_dir=str(tmp_path), master_host="127.0.0.1", inline_bodies=True),
    )
    assert plan.config["client"] == (client or "fast")
    assert parse_plan(json.loads(plan.plan_json), tmp_path).client == (client or "fast")
    (tmp_path / "plan.json").write_text(plan.plan_json)
    # Locust monkey-patches on import: the user class is made in a process of its own.
    script = (
        "import locust, json, pathlib;"
        "from endpoint_loadtest.loadgen.config import load_from_environment;"
        "from endpoint_loadtest.loadgen.users import user_class_for;"
        "print(user_class_for(load_from_environment()).__mro__[1].__name__)"
    )
    env = {**os.environ, "ELT_PLAN_FILE": str(tmp_path / "plan.json")}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [expected]
