"""Operator replicas with kopf peering: what the chart renders for them."""

from __future__ import annotations

import pytest
import yaml
from chart_helpers import CHART, NAMESPACED, ROOT, Helm, find, kube_version

PEERING = ["--set", "peering.enabled=true", "--set", "replicaCount=2"]


def _objects(helm: Helm, *values: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(helm.template(*values)) if d]


def test_more_than_one_replica_needs_peering(helm: Helm) -> None:
    with pytest.raises(AssertionError, match=r"needs peering\.enabled=true"):
        helm.template("--set", "replicaCount=2")


def test_cluster_mode_peering_renders_the_crds_object_args_and_rbac(helm: Helm) -> None:
    objects = _objects(helm, *PEERING)
    (deployment,) = find(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--peering=elt-endpoint-loadtest-operator" in args
    crds = {c["metadata"]["name"] for c in find(objects, "CustomResourceDefinition")}
    assert {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"} <= crds
    (peering,) = find(objects, "ClusterKopfPeering")
    assert peering["metadata"]["name"] == "elt-endpoint-loadtest-operator"
    (role,) = find(objects, "ClusterRole")
    assert {
        "apiGroups": ["kopf.dev"],
        "resources": ["clusterkopfpeerings"],
        "verbs": ["list", "watch", "patch"],
    } in role["rules"]


def test_namespaced_mode_has_one_peering_object_per_watched_namespace(helm: Helm) -> None:
    objects = _objects(helm, *PEERING, *NAMESPACED, "--set", "watchNamespaces={a,b}")
    peerings = find(objects, "KopfPeering")
    assert sorted(p["metadata"]["namespace"] for p in peerings) == ["a", "b"]
    for role in find(objects, "Role"):
        assert any(r["resources"] == ["kopfpeerings"] for r in role["rules"])


def test_without_peering_nothing_of_it_is_rendered(helm: Helm) -> None:
    objects = _objects(helm)
    assert not find(objects, "ClusterKopfPeering") and not find(objects, "KopfPeering")
    (deployment,) = find(objects, "Deployment")
    assert deployment["spec"]["strategy"]["type"] == "Recreate"


def test_the_chart_ships_the_peering_crds_of_crds_dir() -> None:
    shipped = (CHART / "files" / "crds" / "kopf-peering.yaml").read_text()
    assert shipped == (ROOT / "crds" / "kopf-peering.yaml").read_text()


def test_lint_with_peering(helm: Helm) -> None:
    out = helm("lint", "--strict", str(CHART), "--kube-version", kube_version(), *PEERING)
    assert "0 chart(s) failed" in out.stdout
