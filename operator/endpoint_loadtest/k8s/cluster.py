"""The few Kubernetes API calls the operator makes, on the official client.

Kept in one place so the RBAC the chart grants can be read off this file:
configmaps, services, deployments, networkpolicies (create, delete, list); secrets
(create, delete: never get, list or watch); replicasets and pods (list);
endpointloadtests (get; delete, for ttlSecondsAfterFinished; patch, to release a test
being deleted; patch of status); events (kopf).

A child is deleted only if its controller owner reference is the test's uid, and only
the very object that was listed (a uid precondition): a look-alike with the test's
labels is never touched. The run's Secret, which may not be listed, is deleted by its
name, which carries the run's random id (k8s/run_secret.py).
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
from endpoint_loadtest.k8s.manifests import COMPONENT_LABEL, RUN_LABEL, TEST_LABEL, _label_value


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
    uid: str = ""  # the object's own uid: a delete removes this object, not a successor


def _controller_uid(item: Any) -> str | None:
    owners = [o for o in item.metadata.owner_references or [] if o.controller]
    return owners[0].uid if owners else None


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
    owner_uid: str = ""  # and its uid
    terminating: bool = False

    def describe(self) -> str:
        detail = self.reason or self.phase
        return f"{self.name} ({self.component}): {detail}"


class Cluster:
    def __init__(self) -> None:
        self.core = kubernetes.client.CoreV1Api()
        self.apps = kubernetes.client.AppsV1Api()
        self.custom = kubernetes.client.CustomObjectsApi()
        self.networking = kubernetes.client.NetworkingV1Api()

    def create(self, namespace: str, manifest: dict[str, Any]) -> bool:
        """Create; False if it already exists (creation is idempotent across restarts)."""
        kind = manifest["kind"]
        creator = {
            "Secret": self.core.create_namespaced_secret,
            "ConfigMap": self.core.create_namespaced_config_map,
            "Service": self.core.create_namespaced_service,
            "Deployment": self.apps.create_namespaced_deployment,
            "NetworkPolicy": self.networking.create_namespaced_network_policy,
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

    def children(self, namespace: str, test_name: str, test_uid: str) -> list[ChildRef]:
        """The test's children: its labels, and the test as their controller (by uid)."""
        selector = f"{TEST_LABEL}={_label_value(test_name)}"
        found: list[ChildRef] = []
        listings = (
            ("ConfigMap", self.core.list_namespaced_config_map),
            ("Service", self.core.list_namespaced_service),
            ("Deployment", self.apps.list_namespaced_deployment),
            ("NetworkPolicy", self.networking.list_namespaced_network_policy),
        )
        for kind, lister in listings:
            for item in lister(namespace, label_selector=selector).items:
                if _controller_uid(item) != test_uid:
                    continue
                run = (item.metadata.labels or {}).get(RUN_LABEL)
                found.append(ChildRef(kind, item.metadata.name, run, item.metadata.uid or ""))
        return found

    def delete(self, namespace: str, child: ChildRef) -> None:
        """Delete this child (the uid precondition: not another object of the same name)."""
        deleter = {
            "ConfigMap": self.core.delete_namespaced_config_map,
            "Service": self.core.delete_namespaced_service,
            "Deployment": self.apps.delete_namespaced_deployment,
            "NetworkPolicy": self.networking.delete_namespaced_network_policy,
        }[child.kind]
        options = kubernetes.client.V1DeleteOptions(
            propagation_policy="Background",
            preconditions=kubernetes.client.V1Preconditions(uid=child.uid) if child.uid else None,
        )
        try:
            deleter(child.name, namespace, body=options)
        except ApiException as error:
            if error.status not in (404, 409):  # gone, or replaced by another object
                raise

    def delete_secret(self, namespace: str, name: str) -> None:
        """Delete a run's Secret by name (the operator may not list or read Secrets)."""
        try:
            self.core.delete_namespaced_secret(name, namespace)
        except ApiException as error:
            if error.status != 404:
                raise

    def master_replica_sets(
        self, namespace: str, test_name: str, run_id: str, test_uid: str
    ) -> set[str]:
        """Uids of the ReplicaSets of this run's master Deployment, itself the test's.

        A master pod counts only if one of these is its controller: a pod that merely
        carries the run's labels is never asked for the run's result (nor sent its token)."""
        selector = f"{TEST_LABEL}={_label_value(test_name)},{RUN_LABEL}={run_id}"
        deployments = {
            d.metadata.uid
            for d in self.apps.list_namespaced_deployment(namespace, label_selector=selector).items
            if _controller_uid(d) == test_uid
            and (d.metadata.labels or {}).get(COMPONENT_LABEL) == "master"
        }
        replica_sets = self.apps.list_namespaced_replica_set(namespace, label_selector=selector)
        return {rs.metadata.uid for rs in replica_sets.items if _controller_uid(rs) in deployments}

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
            owners = [o for o in pod.metadata.owner_references or [] if o.controller]
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
                    owner=owners[0].name if owners else "",
                    owner_uid=owners[0].uid if owners else "",
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
