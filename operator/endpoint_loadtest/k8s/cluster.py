"""The few Kubernetes API calls the operator makes, on the official client.

Kept in one place so the RBAC the chart grants can be read off this file:
configmaps, services, deployments (create, delete, list); pods (list);
endpointloadtests (get; delete, for ttlSecondsAfterFinished; patch, to release a test
being deleted; patch of status); events (kopf).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

from endpoint_loadtest.api import models
from endpoint_loadtest.k8s.manifests import RUN_LABEL, TEST_LABEL, _label_value


def login() -> None:
    """In-cluster credentials in a pod, else the kubeconfig (tests, laptops)."""
    try:
        kubernetes.config.load_incluster_config()
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()


@dataclass
class ChildRef:
    kind: str
    name: str
    run_id: str | None


class ApiRefused(Exception):
    """The API server refused a request; `permanent`: the same request will fail again."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def api_refusal(error: BaseException) -> ApiRefused:
    """What an API error means: 4xx other than 409/429 is permanent, the rest transient.

    The message is the API server's own (`Deployment.apps "x" is invalid: ...`)."""
    if isinstance(error, ApiException):
        message = error.reason or ""
        with contextlib.suppress(ValueError, AttributeError):
            message = json.loads(error.body or "{}").get("message") or message
        status = error.status or 0
        permanent = 400 <= status < 500 and status not in (409, 429)
        return ApiRefused(f"the API server answered {status}: {message}", permanent)
    return ApiRefused(f"the API server did not answer: {error}", permanent=False)


TRANSIENT_ERRORS = (ApiException, urllib3.exceptions.HTTPError, OSError)


@dataclass
class PodState:
    name: str
    component: str
    phase: str
    ready: bool
    ip: str | None
    reason: str | None  # why a container is not running (ErrImagePull, CrashLoopBackOff...)
    uid: str = ""
    restarts: int = 0
    owner: str = ""  # the owning ReplicaSet's name
    terminating: bool = False

    def describe(self) -> str:
        detail = self.reason or self.phase
        return f"{self.name} ({self.component}): {detail}"


class Cluster:
    def __init__(self) -> None:
        self.core = kubernetes.client.CoreV1Api()
        self.apps = kubernetes.client.AppsV1Api()
        self.custom = kubernetes.client.CustomObjectsApi()

    def create(self, namespace: str, manifest: dict[str, Any]) -> bool:
        """Create; False if it already exists (creation is idempotent across restarts)."""
        kind = manifest["kind"]
        creator = {
            "ConfigMap": self.core.create_namespaced_config_map,
            "Service": self.core.create_namespaced_service,
            "Deployment": self.apps.create_namespaced_deployment,
        }[kind]
        try:
            creator(namespace, manifest)
        except ApiException as error:
            if error.status == 409:
                return False
            raise api_refusal(error) from None
        except TRANSIENT_ERRORS as error:
            raise api_refusal(error) from None
        return True

    def children(self, namespace: str, test_name: str) -> list[ChildRef]:
        selector = f"{TEST_LABEL}={_label_value(test_name)}"
        found: list[ChildRef] = []
        listings = (
            ("ConfigMap", self.core.list_namespaced_config_map),
            ("Service", self.core.list_namespaced_service),
            ("Deployment", self.apps.list_namespaced_deployment),
        )
        for kind, lister in listings:
            for item in lister(namespace, label_selector=selector).items:
                run = (item.metadata.labels or {}).get(RUN_LABEL)
                found.append(ChildRef(kind, item.metadata.name, run))
        return found

    def delete(self, namespace: str, child: ChildRef) -> None:
        deleter = {
            "ConfigMap": self.core.delete_namespaced_config_map,
            "Service": self.core.delete_namespaced_service,
            "Deployment": self.apps.delete_namespaced_deployment,
        }[child.kind]
        try:
            deleter(child.name, namespace, propagation_policy="Background")
        except ApiException as error:
            if error.status != 404:
                raise

    def pods(self, namespace: str, test_name: str, run_id: str) -> list[PodState]:
        selector = f"{TEST_LABEL}={_label_value(test_name)},{RUN_LABEL}={run_id}"
        states = []
        for pod in self.core.list_namespaced_pod(namespace, label_selector=selector).items:
            labels = pod.metadata.labels or {}
            conditions = {c.type: c.status for c in (pod.status.conditions or [])}
            reason = None
            for status in pod.status.container_statuses or []:
                waiting = status.state.waiting if status.state else None
                terminated = status.state.terminated if status.state else None
                if waiting and waiting.reason:
                    reason = f"{waiting.reason}: {waiting.message or ''}".rstrip(": ")
                elif terminated:
                    reason = f"terminated ({terminated.reason}, exit {terminated.exit_code})"
            if reason is None and pod.status.phase == "Pending":
                unscheduled = [c for c in pod.status.conditions or [] if c.type == "PodScheduled"]
                if unscheduled and unscheduled[0].status == "False":
                    reason = f"Unschedulable: {unscheduled[0].message}"
            owners = [o.name for o in pod.metadata.owner_references or [] if o.controller]
            states.append(
                PodState(
                    name=pod.metadata.name,
                    component=labels.get("app.kubernetes.io/component", "?"),
                    phase=pod.status.phase or "Unknown",
                    ready=conditions.get("Ready") == "True",
                    ip=pod.status.pod_ip,
                    reason=reason,
                    uid=pod.metadata.uid or "",
                    restarts=sum(s.restart_count or 0 for s in pod.status.container_statuses or []),
                    owner=owners[0] if owners else "",
                    terminating=pod.metadata.deletion_timestamp is not None,
                )
            )
        return states

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        """Merge-patch the test's status subresource; the object as stored afterwards."""
        return self.custom.patch_namespaced_custom_object_status(
            models.GROUP, models.VERSION, namespace, models.PLURAL, name, {"status": status}
        )

    def release(self, namespace: str, name: str, finalizers: list[str], finalizer: str) -> None:
        """Remove `finalizer` from a test being deleted (a JSON patch that fails, and so
        does nothing, if the finalizers changed meanwhile)."""
        if finalizer not in finalizers:
            return
        index = finalizers.index(finalizer)
        patch = [
            {"op": "test", "path": f"/metadata/finalizers/{index}", "value": finalizer},
            {"op": "remove", "path": f"/metadata/finalizers/{index}"},
        ]
        try:
            self.custom.patch_namespaced_custom_object(
                models.GROUP, models.VERSION, namespace, models.PLURAL, name, patch,
                _content_type="application/json-patch+json",
            )  # fmt: skip
        except ApiException as error:
            if error.status not in (404, 409, 422):
                raise

    def get_test(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The test as stored now; None if it is gone."""
        try:
            return self.custom.get_namespaced_custom_object(
                models.GROUP, models.VERSION, namespace, models.PLURAL, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def delete_test(self, namespace: str, name: str) -> None:
        try:
            self.custom.delete_namespaced_custom_object(
                models.GROUP, models.VERSION, namespace, models.PLURAL, name
            )
        except ApiException as error:
            if error.status != 404:
                raise
