"""The operator's children, built by pure functions: names, labels, security, settings."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from endpoint_loadtest.api.models import EndpointLoadTestSpec
from endpoint_loadtest.engine.plan import build_plan
from endpoint_loadtest.k8s.manifests import (
    build_children,
    child_base_name,
    names,
    placement_for,
)
from endpoint_loadtest.k8s.settings import Settings

DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def _spec(**pod: Any) -> EndpointLoadTestSpec:
    return EndpointLoadTestSpec.model_validate(
        {
            "target": {"sagemaker": {"endpointName": "ep", "region": "us-east-1"}},
            "payload": {"body": '{"inputs": "x"}'},
            "load": {"users": 10, "workers": 3, "duration": "30s"},
            "pod": pod,
        }
    )


START_TIMEOUT = 420.0


def _children(name: str = "smoke", spec: EndpointLoadTestSpec | None = None) -> dict[str, Any]:
    spec = spec or _spec()
    placement = placement_for(name, "ns", spec, start_timeout_seconds=START_TIMEOUT)
    plan = build_plan(spec, name=name, run_id="r1", placement=placement)
    built = build_children(name, "ns", "r1", spec, plan, "registry.example/elt:1")
    return {f"{m['kind']}/{m['metadata']['name']}": m for m in built}


@pytest.mark.parametrize(
    "name",
    ["smoke", "a" * 253, "model.v2.canary", "9-starts-with-digit", "x" * 63 + ".y"],
)
def test_child_names_are_valid_service_names_for_any_legal_resource_name(name: str) -> None:
    for child in names(name).values():
        assert len(child) <= 63 and DNS_1035.match(child), child


def test_different_long_names_never_collide() -> None:
    assert child_base_name("a" * 100 + "1") != child_base_name("a" * 100 + "2")
    assert child_base_name("model.v2") != child_base_name("model-v2")


def test_a_run_has_a_plan_a_master_service_and_two_deployments() -> None:
    children = _children()
    assert sorted(children) == [
        "ConfigMap/smoke-plan",
        "Deployment/smoke-master",
        "Deployment/smoke-worker",
        "Service/smoke-master",
    ]
    assert children["Deployment/smoke-worker"]["spec"]["replicas"] == 3
    assert children["Deployment/smoke-master"]["spec"]["replicas"] == 1
    ports = {p["port"] for p in children["Service/smoke-master"]["spec"]["ports"]}
    assert ports == {5557, 8089}


def test_every_child_carries_the_recommended_labels_and_the_run() -> None:
    for manifest in _children().values():
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "endpoint-loadtest-operator"
        assert labels["perf.elt.dev/run"] == "r1"
        assert labels["app.kubernetes.io/instance"] == "smoke"


def test_pods_meet_the_restricted_pod_security_profile() -> None:
    for key in ("Deployment/smoke-master", "Deployment/smoke-worker"):
        pod = _children()[key]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (container,) = pod["containers"]
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert "runAsUser" not in context  # the image decides; OpenShift assigns its own
        assert context["readOnlyRootFilesystem"] is True
        assert all(v.get("configMap") for v in pod["volumes"])  # no hostPath, nothing writable


def test_workers_reach_the_master_through_its_service_and_bind_to_their_pod_ip() -> None:
    children = _children()
    worker = children["Deployment/smoke-worker"]["spec"]["template"]["spec"]["containers"][0]
    master = children["Deployment/smoke-master"]["spec"]["template"]["spec"]["containers"][0]
    assert "--master-host=smoke-master.ns.svc" in worker["command"]
    assert "--master-bind-host=$(POD_IP)" in master["command"]
    env = {e["name"]: e for e in worker["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"


def test_the_plan_reaches_the_pods_as_a_mounted_file_not_a_variable() -> None:
    """One environment variable is capped at 128 KiB; a ConfigMap file at the 1 MiB object."""
    children = _children()
    for component in ("master", "worker"):
        pod = children[f"Deployment/smoke-{component}"]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        assert "ELT_PLAN" not in env
        assert env["ELT_PLAN_FILE"]["value"] == "/etc/elt/plan/plan.json"
        assert {"name": "plan", "mountPath": "/etc/elt/plan", "readOnly": True} in container[
            "volumeMounts"
        ]
        assert {"name": "plan", "configMap": {"name": "smoke-plan"}} in pod["volumes"]


def test_the_master_waits_for_workers_as_long_as_the_operator_waits_for_the_start() -> None:
    plan = json.loads(_children()["ConfigMap/smoke-plan"]["data"]["plan.json"])
    assert plan["schedule"]["workerConnectTimeoutSeconds"] == START_TIMEOUT


def test_selectors_carry_the_run_id() -> None:
    children = _children()
    service = children["Service/smoke-master"]["spec"]["selector"]
    assert service["perf.elt.dev/run"] == "r1"
    for component in ("master", "worker"):
        deployment = children[f"Deployment/smoke-{component}"]["spec"]
        assert deployment["selector"]["matchLabels"]["perf.elt.dev/run"] == "r1"
        labels = deployment["template"]["metadata"]["labels"]
        assert deployment["selector"]["matchLabels"].items() <= labels.items()


def test_the_plan_configmap_carries_inline_bodies() -> None:
    plan_json = _children()["ConfigMap/smoke-plan"]["data"]["plan.json"]
    assert '"inline": "{\\"inputs\\": \\"x\\"}"' in plan_json


def test_pod_settings_of_the_spec_apply() -> None:
    spec = _spec(
        image="my/locust:2",
        serviceAccountName="invoker",
        nodeSelector={"pool": "loadgen"},
        tolerations=[{"key": "loadgen", "operator": "Exists", "effect": "NoSchedule"}],
        env=[{"name": "A", "value": "1"}],
        envFrom=[{"secretRef": {"name": "creds"}}],
        resources={"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}},
    )
    pod = _children(spec=spec)["Deployment/smoke-worker"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "my/locust:2"
    assert pod["serviceAccountName"] == "invoker"
    assert pod["nodeSelector"] == {"pool": "loadgen"}
    assert pod["tolerations"][0]["key"] == "loadgen"
    assert {"name": "A", "value": "1"} in container["env"]
    assert container["envFrom"] == [{"secretRef": {"name": "creds"}}]
    assert container["resources"] == {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}}


def test_payload_configmaps_are_mounted_read_only() -> None:
    spec = EndpointLoadTestSpec.model_validate(
        {
            "target": {"sagemaker": {"endpointName": "ep", "region": "us-east-1"}},
            "payload": {"configMapKeyRef": {"name": "images", "key": "cat.jpg"}},
            "load": {"users": 1, "duration": "10s"},
        }
    )
    pod = _children(spec=spec)["Deployment/smoke-worker"]["spec"]["template"]["spec"]
    mount = [m for m in pod["containers"][0]["volumeMounts"] if m["name"].startswith("payload")]
    assert mount == [
        {"name": "payload-0", "mountPath": "/etc/elt/payload/images", "readOnly": True}
    ]


def test_operator_defaults_fill_only_what_the_test_leaves_unset() -> None:
    settings = Settings(
        locust_resources={"requests": {"cpu": "500m"}}, locust_service_account="default-sa"
    )
    filled = settings.apply_defaults(_spec())
    assert filled.pod.service_account_name == "default-sa"
    assert filled.pod.resources is not None
    kept = settings.apply_defaults(_spec(serviceAccountName="mine"))
    assert kept.pod.service_account_name == "mine"


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        (Settings(max_users=5), "10 users; this operator allows at most 5"),
        (Settings(max_workers=2), "workers is 3; this operator allows at most 2"),
        (Settings(max_duration_seconds=10), "allows at most 10s"),
    ],
)
def test_caps_refuse_a_test_naming_the_cap(settings: Settings, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        settings.check_caps(_spec())
