"""The chart against the test API server: server-side dry run, install, the RBAC it grants
(`kubectl auth can-i`), and uninstall leaving nothing but the CRD."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from chart_helpers import CHART, NAMESPACED, ROOT, Helm

pytestmark = pytest.mark.cluster

CRD = "customresourcedefinitions/endpointloadtests.perf.elt.dev"
HELM_OWNER = ("meta.helm.sh/release-name", "meta.helm.sh/release-namespace")


def can_i(kube_cluster: Any, who: str, *args: str) -> bool:
    out = kube_cluster.kubectl("auth", "can-i", "--as", who, *args, check=False)
    return out.stdout.strip() == "yes"


def release_objects(kube_cluster: Any, release: str) -> list[str]:
    """Every object, of every listable kind and in every namespace, of the release."""
    kinds = kube_cluster.kubectl("api-resources", "--verbs=list", "-o", "name").stdout.split()
    kinds = [k for k in kinds if k not in ("events", "events.events.k8s.io")]
    out = kube_cluster.kubectl(
        "get", ",".join(kinds), "-A", "-l", f"app.kubernetes.io/instance={release}",
        "-o", "name", "--ignore-not-found", check=False, timeout=90,
    )  # fmt: skip
    return out.stdout.split()


@pytest.fixture
def other_namespace(kube_cluster: Any) -> Iterator[str]:
    name = f"chart-other-{uuid.uuid4().hex[:5]}"
    kube_cluster.kubectl("create", "namespace", name)
    yield name
    kube_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.mark.parametrize("mode", ["cluster", "namespaced"])
def test_rendered_manifests_pass_a_server_side_dry_run(
    kube_cluster: Any, namespace: str, helm: Helm, mode: str
) -> None:
    values = NAMESPACED if mode == "namespaced" else []
    rendered = helm.template(
        *values, "--set", "metrics.serviceMonitor.enabled=false",
        "--set", "grafanaDashboard.enabled=true", namespace=namespace,
    )  # fmt: skip
    out = kube_cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=rendered, check=False)
    assert out.returncode == 0, out.stderr
    assert "customresourcedefinition.apiextensions.k8s.io/endpointloadtests" in out.stdout
    assert "deployment.apps/elt-endpoint-loadtest-operator" in out.stdout


@pytest.fixture
def adoptable_crd(kube_cluster: Any) -> Iterator[None]:
    """The session's CRD (other tests use it) marked as the release's, so that the
    chart can install it; the marks are removed afterwards."""
    kube_cluster.kubectl("apply", "-f", str(ROOT / "crds"))
    yield
    kube_cluster.kubectl(
        "annotate", CRD, *(f"{k}-" for k in HELM_OWNER), "helm.sh/resource-policy-", check=False
    )
    kube_cluster.kubectl(
        "label", CRD, "app.kubernetes.io/managed-by-", "app.kubernetes.io/instance-",
        "helm.sh/chart-", "app.kubernetes.io/version-", "app.kubernetes.io/part-of-",
        check=False,
    )  # fmt: skip


def test_cluster_wide_install_grants_least_privilege_and_uninstalls_clean(
    kube_cluster: Any, namespace: str, other_namespace: str, cluster_helm: Helm,
    adoptable_crd: None,
) -> None:  # fmt: skip
    release = f"elt-{uuid.uuid4().hex[:5]}"
    kube_cluster.kubectl(
        "annotate", CRD, "--overwrite", f"{HELM_OWNER[0]}={release}",
        f"{HELM_OWNER[1]}={namespace}",
    )  # fmt: skip
    kube_cluster.kubectl("label", CRD, "--overwrite", "app.kubernetes.io/managed-by=Helm")
    # No operator pod: this session's other tests run their own operators cluster-wide.
    installed = cluster_helm(
        "install", release, str(CHART), "-n", namespace, "--set", "replicaCount=0",
        "--set", "locust.serviceAccount.namespaces={" + other_namespace + "}",
    )  # fmt: skip
    assert (
        f"kubectl -n {namespace} rollout status deploy/{release}-endpoint-loadtest-operator"
        in installed.stdout
    )
    sa = f"system:serviceaccount:{namespace}:{release}-endpoint-loadtest-operator"
    elt = "endpointloadtests.perf.elt.dev"
    allowed = [
        ("list", elt, "-A"), ("watch", elt, "-A"), ("patch", elt, "-n", other_namespace),
        ("delete", elt, "-n", other_namespace),
        ("patch", elt, "--subresource=status", "-n", other_namespace),
        ("create", "deployments.apps", "-n", other_namespace),
        ("delete", "deployments.apps", "-n", other_namespace),
        ("create", "configmaps", "-n", other_namespace), ("list", "services", "-A"),
        ("list", "pods", "-n", other_namespace), ("create", "events", "-n", other_namespace),
        ("watch", "customresourcedefinitions.apiextensions.k8s.io"),
        ("create", "secrets", "-n", other_namespace), ("delete", "secrets", "-n", other_namespace),
        ("create", "networkpolicies.networking.k8s.io", "-n", other_namespace),
        ("list", "replicasets.apps", "-n", other_namespace),
    ]  # fmt: skip
    denied = [
        ("get", "secrets", "-A"), ("list", "secrets", "-A"), ("get", "secrets", "-n", namespace),
        ("watch", "secrets", "-A"), ("update", "secrets", "-n", other_namespace),
        ("create", "pods", "-n", other_namespace), ("delete", "pods", "-n", other_namespace),
        ("create", "pods/exec", "-n", other_namespace),
        ("update", "deployments.apps", "-n", other_namespace),
        ("patch", "configmaps", "-n", other_namespace), ("get", "configmaps", "-n", namespace),
        ("create", elt, "-n", other_namespace), ("update", elt, "-n", other_namespace),
        ("create", "serviceaccounts/token", "-n", namespace),
        ("create", "rolebindings.rbac.authorization.k8s.io", "-n", namespace),
        ("create", "clusterroles.rbac.authorization.k8s.io"),
        ("delete", "customresourcedefinitions.apiextensions.k8s.io"),
        ("list", "namespaces"), ("delete", "namespaces"), ("list", "nodes"),
        ("create", "events.events.k8s.io", "-n", other_namespace),
        ("impersonate", "serviceaccounts", "-A"), ("*", "*", "-A"),
    ]  # fmt: skip
    wrong = [a for a in allowed if not can_i(kube_cluster, sa, *a)]
    wrong += [("ALLOWED", *d) for d in denied if can_i(kube_cluster, sa, *d)]
    assert not wrong, wrong
    # The Locust pods' ServiceAccount has no RBAC at all.
    locust = f"system:serviceaccount:{other_namespace}:endpoint-loadtest-locust"
    assert not can_i(kube_cluster, locust, "list", "pods", "-n", other_namespace)

    assert release_objects(kube_cluster, release)
    cluster_helm("uninstall", release, "-n", namespace, "--wait", "--timeout", "60s")
    assert release_objects(kube_cluster, release) == [
        f"{CRD.replace('s/', '.apiextensions.k8s.io/', 1)}"
    ]


def test_namespaced_install_reaches_only_its_namespaces(
    kube_cluster: Any, namespace: str, other_namespace: str, cluster_helm: Helm
) -> None:
    release = f"elt-{uuid.uuid4().hex[:5]}"
    cluster_helm(
        "install", release, str(CHART), "-n", namespace, "--set", "replicaCount=0",
        "--set", "crds.install=false", *NAMESPACED,
    )  # fmt: skip
    sa = f"system:serviceaccount:{namespace}:{release}-endpoint-loadtest-operator"
    elt = "endpointloadtests.perf.elt.dev"
    assert can_i(kube_cluster, sa, "list", elt, "-n", namespace)
    assert can_i(kube_cluster, sa, "create", "deployments.apps", "-n", namespace)
    assert can_i(kube_cluster, sa, "list", "namespaces")  # kopf follows watched namespaces
    for args in (("list", elt, "-n", other_namespace), ("list", elt, "-A"),
                 ("create", "deployments.apps", "-n", other_namespace),
                 ("list", "pods", "-n", other_namespace), ("get", "secrets", "-n", namespace),
                 ("get", "namespaces", namespace)):  # fmt: skip
        assert not can_i(kube_cluster, sa, *args), args
    cluster_helm("uninstall", release, "-n", namespace, "--wait", "--timeout", "60s")
    assert release_objects(kube_cluster, release) == []
