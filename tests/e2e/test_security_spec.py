"""Hostile specs on the real cluster: each escalation through the spec is refused naming
the field (by the CRD at admission, or by the operator's own settings), `$(VAR)` in a
value reaches the pod literally, the Locust pods carry no ServiceAccount token, and a
header taken from a Secret reaches the endpoint while its value is found nowhere else."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_helpers import apply, get_test, load_test, wait_for_phase

from conftest import OperatorProcess, operator_env, release_unfinished_tests
from localcluster.waiting import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]

TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def _apply_refused(kube_cluster: Any, namespace: str, doc: dict[str, Any]) -> str:
    out = kube_cluster.kubectl(
        "apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(doc), check=False
    )
    assert out.returncode != 0, f"accepted: {doc['spec']}"
    return out.stderr


def _http_test(name: str, url: str, **http: Any) -> dict[str, Any]:
    doc = load_test(name, "unused", users=2, duration="4s",
                    thresholds={"maxErrorRate": 0.01, "minRequests": 10})  # fmt: skip
    doc["spec"]["target"] = {"http": {"url": url, **http}}
    doc["spec"]["pod"] = {}
    return doc


@pytest.mark.parametrize(
    ("pod", "target", "field", "needle"),
    [
        ({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"},
                  {"name": "PYTHONPATH", "value": "/etc/elt/payload/p"}]}, None,
         "spec.pod.env[2].name", "must not start with PYTHON, LD_ or ELT_"),
        ({"env": [{"name": "LD_PRELOAD", "value": "/x.so"}]}, None, "spec.pod.env[0].name",
         "must not start with PYTHON"),
        ({"env": [{"name": "ELT_PLAN_FILE", "value": "/tmp/p"}]}, None, "spec.pod.env[0].name",
         "operator's own variables"),
        ({"envFrom": [{"prefix": "PYTHON", "configMapRef": {"name": "c"}}]}, None,
         "spec.pod.envFrom[0].prefix", "must not start with PYTHON"),
        ({}, {"http": {"url": "http://m/p", "headers": {"authorization": "Bearer t"}}},
         "spec.target.http.headers", "take them from a Secret with target.http.headersFrom"),
        ({}, {"http": {"url": "http://m/p", "headers": {"X-API-Key": "k"}}},
         "spec.target.http.headers", "headersFrom"),
    ],
)  # fmt: skip
def test_hostile_env_and_headers_are_refused_at_admission_naming_the_field(
    kube_cluster: Any, namespace: str, crd_installed: None, pod: dict, target: dict | None,
    field: str, needle: str,
) -> None:  # fmt: skip
    doc = load_test("hostile", "ep")
    doc["spec"]["pod"] = pod
    if target:
        doc["spec"]["target"] = target
    refused = _apply_refused(kube_cluster, namespace, doc)
    assert field in refused and needle in refused, refused


@pytest.mark.parametrize(
    ("pod", "needle"),
    [
        ({"image": "evil.example/payload:1"},
         "spec.pod.image: evil.example/payload:1 is not allowed by this operator's "
         "settings.allowedImagePrefixes"),
        ({"serviceAccountName": "admin"},
         "spec.pod.serviceAccountName: admin is not allowed by this operator's "
         "settings.allowedServiceAccounts"),
        ({"tolerations": [{"operator": "Exists"}]},
         "spec.pod.tolerations: scheduling overrides are not allowed by this operator's "
         "settings.allowSchedulingOverrides"),
    ],
)  # fmt: skip
def test_the_operator_refuses_what_its_settings_do_not_allow(
    kube_cluster: Any, namespace: str, elt_operator: Any, pod: dict, needle: str
) -> None:
    doc = load_test("escalate", "ep")
    doc["spec"]["pod"] = pod
    apply(kube_cluster, namespace, doc)
    done = wait_for_phase(kube_cluster, namespace, "escalate", ("Error",), timeout=60)
    status = done["status"]
    assert status["reason"] == "InvalidSpec" and needle in status["message"], status
    events = json.loads(kube_cluster.kubectl(
        "get", "events", "-n", namespace, "--field-selector",
        "involvedObject.name=escalate,reason=InvalidSpec", "-o", "json",
    ).stdout)["items"]  # fmt: skip
    assert len(events) == 1 and needle in events[0]["message"], events
    children = kube_cluster.kubectl(
        "get", "deployments,services,configmaps", "-n", namespace,
        "-l", "perf.elt.dev/test=escalate", "-o", "name",
    ).stdout.split()  # fmt: skip
    assert children == []


PROBE = f"""
import json, os
print(json.dumps({{"env": {{k: os.environ.get(k) for k in ("LEAK", "DOUBLE", "PYTHONPATH")}},
                  "token": os.path.exists({TOKEN_PATH!r})}}))
"""


def test_env_values_reach_the_pod_literally_and_no_token_is_mounted(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any
) -> None:
    doc = load_test("literal", sim_endpoint.endpoint, duration="8s")
    doc["spec"]["pod"]["env"] = [
        {"name": "LEAK", "value": "https://elsewhere/$(AWS_SECRET_ACCESS_KEY)"},
        {"name": "DOUBLE", "value": "$$(AWS_SECRET_ACCESS_KEY)"},
    ]
    apply(kube_cluster, namespace, doc)
    wait_for_phase(kube_cluster, namespace, "literal", ("Running",), timeout=120)
    pods = json.loads(kube_cluster.kubectl(
        "get", "pods", "-n", namespace, "-l", "perf.elt.dev/test=literal", "-o", "json"
    ).stdout)["items"]  # fmt: skip
    assert {p["metadata"]["labels"]["app.kubernetes.io/component"] for p in pods} == {
        "master",
        "worker",
    }
    for pod in pods:
        out = kube_cluster.kubectl(
            "exec", "-n", namespace, pod["metadata"]["name"], "--", "python3", "-c", PROBE
        ).stdout
        seen = json.loads(out)
        assert seen == {
            "env": {"LEAK": "https://elsewhere/$(AWS_SECRET_ACCESS_KEY)",
                    "DOUBLE": "$$(AWS_SECRET_ACCESS_KEY)", "PYTHONPATH": ""},
            "token": False,
        }, pod["metadata"]["name"]  # fmt: skip
    done = wait_for_phase(kube_cluster, namespace, "literal", ("Completed", "Error"), 150)
    assert done["status"]["verdict"]["result"] == "Passed", done["status"]


class _Recorder(BaseHTTPRequestHandler):
    """An HTTP inference endpoint that answers at once and counts Authorization values."""

    seen: dict[str, int]
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            key = self.headers.get("Authorization") or ""
            self.seen[key] = self.seen.get(key, 0) + 1
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recording_endpoint(kube_cluster: Any) -> Iterator[tuple[str, dict[str, int]]]:
    seen: dict[str, int] = {}
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer((kube_cluster.host_address, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{kube_cluster.host_address}:{server.server_address[1]}/predict", seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def debug_operator(
    kube_cluster: Any, namespace: str, crd_installed: None, tmp_path: Path
) -> Iterator[OperatorProcess]:
    """The operator at debug level: its most talkative log must hold no secret either."""
    operator = OperatorProcess(
        namespace, tmp_path / "operator.log", operator_env(kube_cluster), ["--log-level=debug"]
    )
    operator.start()
    yield operator
    operator.stop()
    release_unfinished_tests(kube_cluster, namespace)


def test_a_header_from_a_secret_reaches_the_endpoint_and_nowhere_else(
    kube_cluster: Any, namespace: str, debug_operator: OperatorProcess,
    recording_endpoint: tuple[str, dict[str, int]],
) -> None:  # fmt: skip
    url, seen = recording_endpoint
    planted = f"planted-{uuid.uuid4().hex}"
    apply(kube_cluster, namespace, {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "endpoint-token"},
        "stringData": {"token": planted + "\n"},
    })  # fmt: skip
    doc = _http_test("secret-header", url, headers={"X-Tenant": "team-a"}, headersFrom=[
        {"name": "Authorization", "secretKeyRef": {"name": "endpoint-token", "key": "token"},
         "prefix": "Bearer "},
    ])  # fmt: skip
    apply(kube_cluster, namespace, doc)
    wait_until(lambda: seen.get(f"Bearer {planted}", 0) > 0, timeout=150,
               what="a request carrying the Secret's header")  # fmt: skip
    logs = [kube_cluster.kubectl(
        "logs", "-n", namespace, "-l", "perf.elt.dev/test=secret-header", "--tail=-1",
        "--prefix", check=False,
    ).stdout]  # fmt: skip
    done = wait_for_phase(kube_cluster, namespace, "secret-header", ("Completed", "Error"), 150)
    assert done["status"]["verdict"]["result"] == "Passed", done["status"]
    assert set(seen) == {f"Bearer {planted}"}, "every request carried the header"
    assert sum(seen.values()) >= done["status"]["results"]["totalRequests"]
    places = {
        "pod logs": "\n".join(logs),
        "test (spec, status, kopf annotations)": json.dumps(get_test(kube_cluster, namespace,
                                                                      "secret-header")),
        "events": kube_cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout,
        "configmaps": kube_cluster.kubectl("get", "configmaps", "-n", namespace, "-o",
                                           "json").stdout,
        "operator log": debug_operator.log(),
    }  # fmt: skip
    assert (
        "perf.elt.dev/last-handled-configuration" in places["test (spec, status, kopf annotations)"]
    )
    assert "ELT_HEADER_0" in places["configmaps"]  # the plan is there, naming the variable
    leaked = [where for where, text in places.items() if planted in text]
    assert leaked == []
