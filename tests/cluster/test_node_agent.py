"""The node agent's kubelet behaviour: env, images, exit codes, restarts, probes, deletion."""

from __future__ import annotations

import time
from typing import Any

import psutil
import pytest

from cluster.kube import apply, is_ready, wait_gone, wait_log
from localcluster import LocalCluster
from localcluster.procs import gone
from localcluster.waiting import wait_until

pytestmark = pytest.mark.cluster


def pod(name: str, image: str, command: list[str], **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": image, "command": command}
    container.update(spec.pop("container", {}))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [container], **spec}}  # fmt: skip


def get_pod(cluster: LocalCluster, namespace: str, name: str) -> dict[str, Any]:
    return cluster.api().get(f"/api/v1/namespaces/{namespace}/pods/{name}")


def wait_phase(cluster: LocalCluster, namespace: str, name: str, phase: str) -> dict[str, Any]:
    return wait_until(
        lambda: (p := get_pod(cluster, namespace, name))["status"].get("phase") == phase and p,
        60,
        what=f"pod {name} phase {phase}",
    )


def main_status(p: dict[str, Any]) -> dict[str, Any]:
    return p["status"]["containerStatuses"][0]


def test_env_sources_expansion_and_working_dir(kube_cluster: LocalCluster, namespace: str) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "stringData": {"password": "hunter2", "user": "bob"}}  # fmt: skip
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
          "data": {"mode": "fast", "LEVEL": "3", "locustfile.py": "print('hi')"}}  # fmt: skip
    env = [
        {"name": "GREETING", "value": "hello"},
        {"name": "MSG", "value": "$(GREETING) world $$(GREETING)"},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "password"}}},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "mode"}}},
    ]
    manifest = pod(
        "env",
        "busybox:1.36",
        ["sh", "-c", 'echo "args $0 $1"; env | sort; echo "pwd=$(pwd)"; cat /mnt/locustfile.py',
         "--bind=$(POD_IP)", "$$(POD_IP)"],
        restartPolicy="Never",
        volumes=[{"name": "cfg", "configMap": {"name": "c"}}],
        container={
            "env": env,
            "envFrom": [{"configMapRef": {"name": "c"}},
                        {"prefix": "S_", "secretRef": {"name": "s"}}],
            "workingDir": "/srv",
            "volumeMounts": [{"name": "cfg", "mountPath": "/mnt", "readOnly": True}],
        },
    )  # fmt: skip
    manifest["metadata"]["labels"] = {"app": "envtest"}
    apply(kube_cluster, namespace, secret, cm, manifest)
    p = wait_phase(kube_cluster, namespace, "env", "Succeeded")
    ip = p["status"]["podIP"]
    log = kube_cluster.logs(namespace, "env")
    for line in [
        f"args --bind={ip} $(POD_IP)",
        "MSG=hello world $(GREETING)",
        f"POD_IP={ip}",
        "POD_NAME=env",
        "APP=envtest",
        "PASSWORD=hunter2",
        "MODE=fast",
        "LEVEL=3",
        "S_user=bob",
        "HOSTNAME=env",
        "KUBERNETES_SERVICE_HOST=127.0.0.1",
        "pwd=/srv",
        "print('hi')",
    ]:
        assert line in log, f"{line!r} not in:\n{log}"
    assert main_status(p)["state"]["terminated"]["exitCode"] == 0


def test_unknown_image_is_err_image_pull(kube_cluster: LocalCluster, namespace: str) -> None:
    apply(kube_cluster, namespace, pod("nope", "registry.example/nope:1", ["true"]))
    p = wait_until(
        lambda: (
            (p := get_pod(kube_cluster, namespace, "nope"))["status"].get("containerStatuses") and p
        ),
        30,
        what="container status of nope",
    )
    waiting = main_status(p)["state"]["waiting"]
    assert waiting["reason"] == "ErrImagePull"
    assert p["status"]["phase"] == "Pending"


def test_missing_secret_is_config_error(kube_cluster: LocalCluster, namespace: str) -> None:
    env = [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}}]
    apply(kube_cluster, namespace, pod("cfgerr", "busybox", ["true"], container={"env": env}))
    wait_until(
        lambda: (
            main_status(get_pod(kube_cluster, namespace, "cfgerr"))["state"]["waiting"]["reason"]
            == "CreateContainerConfigError"
        ),
        30,
        what="CreateContainerConfigError",
    )


def test_exit_codes_and_restart_policies(kube_cluster: LocalCluster, namespace: str) -> None:
    apply(
        kube_cluster,
        namespace,
        pod("fails", "busybox", ["sh", "-c", "exit 3"], restartPolicy="Never"),
        pod("retries", "busybox", ["sh", "-c", "echo run; exit 1"], restartPolicy="OnFailure"),
    )
    p = wait_phase(kube_cluster, namespace, "fails", "Failed")
    term = main_status(p)["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (3, "Error")
    p = wait_until(
        lambda: (
            (p := get_pod(kube_cluster, namespace, "retries"))
            and main_status(p)["restartCount"] >= 2
            and p
        ),
        30,
        what="two restarts",
    )
    assert main_status(p)["lastState"]["terminated"]["exitCode"] == 1
    assert kube_cluster.logs(namespace, "retries", previous=True).strip() == "run"


def test_sigterm_then_sigkill_after_grace(kube_cluster: LocalCluster, namespace: str) -> None:
    polite = "import signal,sys,time\n" \
        "def bye(*a): print('got SIGTERM', flush=True); sys.exit(0)\n" \
        "signal.signal(signal.SIGTERM, bye)\n" \
        "print('up', flush=True)\nwhile True: time.sleep(1)"  # fmt: skip
    stubborn = "import signal,time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" \
        "print('up', flush=True)\nwhile True: time.sleep(1)"  # fmt: skip
    apply(
        kube_cluster,
        namespace,
        pod("polite", "python:3.11", ["python3", "-c", polite], terminationGracePeriodSeconds=30),
        pod("stubborn", "python:3.11", ["python3", "-c", stubborn],
            terminationGracePeriodSeconds=2),
    )  # fmt: skip
    wait_log(kube_cluster, namespace, "polite", "up")
    wait_log(kube_cluster, namespace, "stubborn", "up")
    t0 = time.monotonic()
    kube_cluster.kubectl("delete", "pod", "polite", "stubborn", "-n", namespace, "--wait=false")
    wait_gone(kube_cluster, f"/api/v1/namespaces/{namespace}/pods/polite", 20)
    assert "got SIGTERM" in kube_cluster.logs(namespace, "polite")
    wait_gone(kube_cluster, f"/api/v1/namespaces/{namespace}/pods/stubborn", 20)
    assert 1.5 < time.monotonic() - t0 < 10


def test_probes_gevent_dns_and_liveness_restart(kube_cluster: LocalCluster, namespace: str) -> None:
    server = pod(
        "tcp",
        "python:3.11",
        ["python3", "-c", "import socket,os,time\ns=socket.socket()\n"
         "s.bind((os.environ['POD_IP'], 7000)); s.listen()\nwhile True: s.accept()"],
        container={
            "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
            "readinessProbe": {"tcpSocket": {"port": 7000}, "periodSeconds": 1},
            "livenessProbe": {"exec": {"command": ["test", "!", "-e", "/tmp/elt-never"]}},
        },
    )  # fmt: skip
    server["metadata"]["labels"] = {"app": "tcp"}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "tcp"},
           "spec": {"selector": {"app": "tcp"}, "ports": [{"port": 7000}]}}  # fmt: skip
    gevent_client = (
        "from gevent import monkey; monkey.patch_all()\nimport socket, time\n"
        "while True:\n"
        "    try: print('resolved', socket.getaddrinfo('tcp.%s.svc.cluster.local', 7000)[0][4][0],"
        " flush=True)\n"
        "    except OSError as e: print('no', e, flush=True)\n"
        "    time.sleep(0.3)"
    ).replace("%s", namespace)
    sick = pod(
        "sick",
        "python:3.11",
        ["python3", "-c", "import time\nprint('start', flush=True)\ntime.sleep(3600)"],
        container={"livenessProbe": {"httpGet": {"port": 9, "path": "/"}, "periodSeconds": 1,
                                     "failureThreshold": 2}},
    )  # fmt: skip
    apply(kube_cluster, namespace, server, svc, sick,
          pod("gclient", "python:3.11", ["python3", "-c", gevent_client]))  # fmt: skip
    p = wait_until(
        lambda: is_ready(p := get_pod(kube_cluster, namespace, "tcp")) and p, 30, what="tcp ready"
    )
    wait_log(kube_cluster, namespace, "gclient", f"resolved {p['status']['podIP']}")
    wait_until(
        lambda: main_status(get_pod(kube_cluster, namespace, "sick"))["restartCount"] >= 1,
        30,
        what="liveness restart",
    )


def test_daemonized_process_dies_with_its_pod(kube_cluster: LocalCluster, namespace: str) -> None:
    # The child leaves the container's process group (setsid), as a daemon would.
    script = "import os,subprocess,time\n" \
        "p = subprocess.Popen(['sleep', '3600'], start_new_session=True)\n" \
        "print('child', p.pid, flush=True)\ntime.sleep(3600)"  # fmt: skip
    apply(kube_cluster, namespace, pod("daemon", "python:3.11", ["python3", "-c", script],
                                       terminationGracePeriodSeconds=1))  # fmt: skip
    log = wait_log(kube_cluster, namespace, "daemon", "child ")
    child = int(log.split("child ")[1].split()[0])
    assert psutil.pid_exists(child)
    kube_cluster.kubectl("delete", "pod", "daemon", "-n", namespace, "--wait=false")
    wait_gone(kube_cluster, f"/api/v1/namespaces/{namespace}/pods/daemon", 20)
    wait_until(lambda: gone(psutil.Process(child)) if psutil.pid_exists(child) else True, 5,
               what="the daemonized child to die")  # fmt: skip


def test_product_image_runs_this_checkouts_venv(kube_cluster: LocalCluster, namespace: str) -> None:
    script = "import endpoint_loadtest, sys; print('exe', sys.executable)"
    manifest = pod("product", "ghcr.io/elt-dev/endpoint-loadtest-operator:0.1.0",
                   ["python", "-c", script], restartPolicy="Never")  # fmt: skip
    apply(kube_cluster, namespace, manifest)
    wait_phase(kube_cluster, namespace, "product", "Succeeded")
    assert "/.venv/bin/python" in kube_cluster.logs(namespace, "product")
