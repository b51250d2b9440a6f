"""Manifests of a test's children, as pure functions of the test and its plan.

Nothing here talks to the API: the handlers adopt and create what these return,
and tests call them alone. Pods meet the Pod Security "restricted" profile by
default and carry no credentials: AWS access comes from the ServiceAccount
(IRSA on EKS).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from endpoint_loadtest.api.models import EndpointLoadTestSpec, PodSettings
from endpoint_loadtest.engine.plan import MASTER_PORT, PLAN_FILENAME, WEB_PORT, Placement, Plan

APP_NAME = "endpoint-loadtest"
MANAGED_BY = "endpoint-loadtest-operator"
TEST_LABEL = "perf.elt.dev/test"
RUN_LABEL = "perf.elt.dev/run"
COMPONENT_LABEL = "app.kubernetes.io/component"
DEFAULT_IMAGE = "ghcr.io/elt-dev/endpoint-loadtest-operator:0.1.0"
PLAN_MOUNT = "/etc/elt/plan"  # the plan ConfigMap, mounted read-only
PLAN_VOLUME = "plan"
POD_IP_ENV = "POD_IP"
MAX_BASE_LENGTH = 40


def child_base_name(test_name: str) -> str:
    """A DNS-1035 label prefix for children, valid for any legal resource name.

    Resource names may be 253 characters with dots; Service names may not. Long or
    dotted names are shortened and suffixed with a hash so two tests never collide.
    """
    cleaned = re.sub(r"[^a-z0-9-]", "-", test_name.lower()).strip("-")
    if cleaned != test_name or len(cleaned) > MAX_BASE_LENGTH:
        digest = hashlib.sha256(test_name.encode()).hexdigest()[:6]
        cleaned = f"{cleaned[:MAX_BASE_LENGTH].rstrip('-')}-{digest}"
    if not cleaned[:1].isalpha():
        cleaned = f"elt-{cleaned}"
    return cleaned


def _label_value(value: str) -> str:
    if len(value) <= 63 and re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", value):
        return value
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def names(test_name: str) -> dict[str, str]:
    base = child_base_name(test_name)
    return {
        "plan": f"{base}-plan",
        "master": f"{base}-master",
        "worker": f"{base}-worker",
    }


def labels(test_name: str, run_id: str, component: str | None = None) -> dict[str, str]:
    result = {
        "app.kubernetes.io/name": APP_NAME,
        "app.kubernetes.io/instance": child_base_name(test_name),
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": "endpoint-loadtest",
        TEST_LABEL: _label_value(test_name),
        RUN_LABEL: run_id,
    }
    if component:
        result[COMPONENT_LABEL] = component
    return result


def selector(test_name: str, run_id: str, component: str) -> dict[str, str]:
    """With the run id: a rerun's Service never matches the previous run's terminating
    pods (each run makes its own Deployments, so the immutable selector is no obstacle)."""
    return {
        "app.kubernetes.io/instance": child_base_name(test_name),
        TEST_LABEL: _label_value(test_name),
        RUN_LABEL: run_id,
        COMPONENT_LABEL: component,
    }


def master_service_host(test_name: str, namespace: str) -> str:
    return f"{names(test_name)['master']}.{namespace}.svc"


PAYLOAD_MOUNT = "/etc/elt/payload"


def payload_config_maps(spec: EndpointLoadTestSpec) -> list[str]:
    """ConfigMaps whose keys are request bodies: mounted read-only into the workers."""
    refs = [b.config_map_key_ref for b in spec.payload.all_bodies() if b.config_map_key_ref]
    return sorted({ref.name for ref in refs})


def placement_for(
    test_name: str, namespace: str, spec: EndpointLoadTestSpec, *, start_timeout_seconds: float
) -> Placement:
    """Where the Locust processes find each other in a cluster.

    The master waits for its workers as long as the operator waits for the run to
    start: on a busy node workers may come up long after the master.
    """
    refs = [b.config_map_key_ref for b in spec.payload.all_bodies() if b.config_map_key_ref]
    return Placement(
        config_map_paths={
            f"{ref.name}/{ref.key}": f"{PAYLOAD_MOUNT}/{ref.name}/{ref.key}" for ref in refs
        },
        plan_dir=PLAN_MOUNT,
        master_host=master_service_host(test_name, namespace),
        master_bind_host=f"$({POD_IP_ENV})",
        web_host=f"$({POD_IP_ENV})",
        master_port=MASTER_PORT,
        web_port=WEB_PORT,
        inline_bodies=True,
        worker_connect_timeout_seconds=start_timeout_seconds,
    )


def build_plan_configmap(test_name: str, run_id: str, plan: Plan) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": names(test_name)["plan"], "labels": labels(test_name, run_id, "plan")},
        "data": {PLAN_FILENAME: plan.plan_json},
    }


def _restricted_container_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _env(plan_env: dict[str, str], pod: PodSettings) -> list[dict[str, Any]]:
    """The plan itself is a mounted file (ELT_PLAN_FILE): one variable is capped at 128 KiB."""
    env: list[dict[str, Any]] = [
        {"name": POD_IP_ENV, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]
    env += [{"name": k, "value": v} for k, v in sorted(plan_env.items())]
    env += [e.to_wire() for e in pod.env or []]
    return env


def _pod_template(
    *,
    test_name: str,
    run_id: str,
    component: str,
    command: list[str],
    spec: EndpointLoadTestSpec,
    plan_env: dict[str, str],
    default_image: str,
    ports: list[dict[str, Any]],
    readiness: dict[str, Any] | None,
) -> dict[str, Any]:
    pod = spec.pod
    container: dict[str, Any] = {
        "name": component,
        "image": pod.image or default_image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "env": _env(plan_env, pod),
        "securityContext": _restricted_container_context(),
        # The load generator writes no files: a read-only root and no scratch volume.
        "volumeMounts": [
            {"name": PLAN_VOLUME, "mountPath": PLAN_MOUNT, "readOnly": True},
            *(
                {"name": f"payload-{i}", "mountPath": f"{PAYLOAD_MOUNT}/{cm}", "readOnly": True}
                for i, cm in enumerate(payload_config_maps(spec))
            ),
        ],
    }
    if ports:
        container["ports"] = ports
    if readiness:
        container["readinessProbe"] = readiness
    if pod.env_from:
        container["envFrom"] = [e.to_wire() for e in pod.env_from]
    if pod.resources:
        container["resources"] = pod.resources.to_wire()
    pod_spec: dict[str, Any] = {
        "containers": [container],
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumes": [
            {"name": PLAN_VOLUME, "configMap": {"name": names(test_name)["plan"]}},
            *(
                {"name": f"payload-{i}", "configMap": {"name": cm}}
                for i, cm in enumerate(payload_config_maps(spec))
            ),
        ],
        "terminationGracePeriodSeconds": 10,
        "enableServiceLinks": False,
    }
    if pod.service_account_name:
        pod_spec["serviceAccountName"] = pod.service_account_name
    if pod.node_selector:
        pod_spec["nodeSelector"] = dict(pod.node_selector)
    if pod.tolerations:
        pod_spec["tolerations"] = [t.to_wire() for t in pod.tolerations]
    return {"metadata": {"labels": labels(test_name, run_id, component)}, "spec": pod_spec}


def _deployment(
    test_name: str, run_id: str, component: str, replicas: int, template: dict[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": names(test_name)[component],
            "labels": labels(test_name, run_id, component),
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector(test_name, run_id, component)},
            "strategy": {"type": "Recreate"},
            "template": template,
        },
    }


def build_master_deployment(
    test_name: str, run_id: str, spec: EndpointLoadTestSpec, plan: Plan, default_image: str
) -> dict[str, Any]:
    template = _pod_template(
        test_name=test_name,
        run_id=run_id,
        component="master",
        command=plan.master.command,
        spec=spec,
        plan_env=plan.master.env,
        default_image=default_image,
        ports=[
            {"name": "locust", "containerPort": MASTER_PORT, "protocol": "TCP"},
            {"name": "web", "containerPort": WEB_PORT, "protocol": "TCP"},
        ],
        readiness={
            "httpGet": {"path": "/elt/status", "port": WEB_PORT},
            "periodSeconds": 2,
            "timeoutSeconds": 2,
        },
    )
    return _deployment(test_name, run_id, "master", 1, template)


def build_worker_deployment(
    test_name: str, run_id: str, spec: EndpointLoadTestSpec, plan: Plan, default_image: str
) -> dict[str, Any]:
    template = _pod_template(
        test_name=test_name,
        run_id=run_id,
        component="worker",
        command=plan.worker.command,
        spec=spec,
        plan_env=plan.worker.env,
        default_image=default_image,
        ports=[],
        readiness=None,
    )
    return _deployment(test_name, run_id, "worker", plan.workers, template)


def build_master_service(test_name: str, run_id: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": names(test_name)["master"],
            "labels": labels(test_name, run_id, "master"),
        },
        "spec": {
            "selector": selector(test_name, run_id, "master"),
            "ports": [
                {"name": "locust", "port": MASTER_PORT, "targetPort": MASTER_PORT},
                {"name": "web", "port": WEB_PORT, "targetPort": WEB_PORT},
            ],
        },
    }


def build_children(
    test_name: str, namespace: str, run_id: str, spec: EndpointLoadTestSpec, plan: Plan,
    default_image: str = DEFAULT_IMAGE,
) -> list[dict[str, Any]]:  # fmt: skip
    """Everything a run needs, in creation order (ConfigMap before the pods using it)."""
    return [
        build_plan_configmap(test_name, run_id, plan),
        build_master_service(test_name, run_id),
        build_master_deployment(test_name, run_id, spec, plan, default_image),
        build_worker_deployment(test_name, run_id, spec, plan, default_image),
    ]
