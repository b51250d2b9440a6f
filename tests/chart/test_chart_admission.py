"""The chart's ValidatingAdmissionPolicy on the test API server, with two test authors:
alice may create pods and read the namespace's Secrets and ConfigMaps, bob may only
create EndpointLoadTests. What the spec asks of the operator, only alice may ask."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from chart_helpers import ROOT, Helm, find

from localcluster.waiting import wait_until

cluster = pytest.mark.cluster

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
SELECTOR = "admissionPolicy.namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name"
SECRET_ENV = [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "db", "key": "k"}}}]
ELT = {"apiGroups": ["perf.elt.dev"], "resources": ["endpointloadtests"]}


def role(namespace: str, name: str, user: str, rules: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all([
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": name, "namespace": namespace}, "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": name, "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]},
    ])  # fmt: skip


def test_spec(name: str, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "target": {"sagemaker": {"endpointName": "e", "region": "us-east-1"}},
        "payload": {"body": "{}"},
        "load": {"users": 1, "duration": "5s"},
    }
    for path, value in extra.items():
        node = spec
        *parents, leaf = path.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return {"apiVersion": "perf.elt.dev/v1alpha1", "kind": "EndpointLoadTest",
            "metadata": {"name": name}, "spec": spec}  # fmt: skip


test_spec.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture
def policy(kube_cluster: Any, namespace: str, helm: Helm) -> Iterator[None]:
    """The chart's policy, bound to this test's namespace only, and three authors."""
    crds = kube_cluster.kubectl("apply", "-f", str(ROOT / "crds"), check=False)
    assert crds.returncode == 0, crds.stderr
    release = f"adm-{uuid.uuid4().hex[:5]}"
    rendered = helm(
        "template", release, str(ROOT / "charts" / "endpoint-loadtest-operator"),
        "-n", "elt-system", "--show-only", "templates/admission-policy.yaml",
        "--set", f"{SELECTOR}={namespace}",
    ).stdout  # fmt: skip
    kube_cluster.kubectl("apply", "-f", "-", input=rendered)
    authors = [
        role(namespace, "alice", ALICE, [
            {**ELT, "verbs": ["create", "get", "delete"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["get"]},
        ]),
        role(namespace, "bob", BOB, [{**ELT, "verbs": ["create", "get", "delete"]}]),
        role(namespace, "carol", CAROL, [{**ELT, "verbs": ["get", "patch"]}]),
    ]  # fmt: skip
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input="---\n".join(authors))
    policy_name = f"{release}-endpoint-loadtest-operator-elt-system-author"
    probe = yaml.safe_dump(test_spec("probe", pod={"image": "x/y:1"}))

    def enforced() -> bool:
        out = kube_cluster.kubectl(
            "create", "--dry-run=server", "--as", BOB, "-n", namespace, "-f", "-",
            input=probe, check=False,
        )  # fmt: skip
        return out.returncode != 0 and policy_name in out.stderr

    wait_until(enforced, timeout=30, what="the admission policy to be enforced")
    yield
    kube_cluster.kubectl(
        "delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", policy_name,
        "--ignore-not-found", check=False,
    )  # fmt: skip


def create_as(kube_cluster: Any, namespace: str, user: str, doc: dict[str, Any]) -> Any:
    return kube_cluster.kubectl(
        "create", "--as", user, "-n", namespace, "-f", "-", input=yaml.safe_dump(doc),
        check=False,
    )  # fmt: skip


@cluster
def test_the_policy_type_checks(kube_cluster: Any, namespace: str, policy: None) -> None:
    out = kube_cluster.kubectl("get", "validatingadmissionpolicy", "-o", "yaml")
    for item in yaml.safe_load(out.stdout)["items"]:
        if item["metadata"]["name"].startswith("adm-"):
            assert (
                not (item.get("status") or {}).get("typeChecking", {}).get("expressionWarnings")
            ), item["status"]


HOSTILE = [
    ("image", {"pod": {"image": "evil/image:1"}}, "spec.pod.image needs the right to create pods"),
    ("sa", {"pod": {"serviceAccountName": "admin-sa"}}, "spec.pod.serviceAccountName"),
    ("nodesel", {"pod": {"nodeSelector": {"node-role": "control-plane"}}}, "spec.pod.nodeSelector"),
    ("tol", {"pod": {"tolerations": [{"operator": "Exists"}]}}, "spec.pod.tolerations"),
    ("env", {"pod": {"env": SECRET_ENV}}, "the spec names Secrets db"),
    ("envfrom", {"pod": {"envFrom": [{"secretRef": {"name": "db"}}]}}, "the spec names Secrets db"),
    ("hdr", {"target": {"http": {"url": "http://m/p", "headersFrom": [
        {"name": "Authorization", "secretKeyRef": {"name": "token", "key": "t"}}]}}},
     "the spec names Secrets token"),
    ("payload", {"payload": {"configMapKeyRef": {"name": "private", "key": "k"}}},
     "the spec names ConfigMaps private"),
]  # fmt: skip


@cluster
@pytest.mark.parametrize(("short", "extra", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_only_an_author_allowed_to_do_it_may_ask_the_operator(
    kube_cluster: Any, namespace: str, policy: None, short: str, extra: dict, message: str
) -> None:
    doc = test_spec(f"t-{short}", **extra)
    refused = create_as(kube_cluster, namespace, BOB, doc)
    assert refused.returncode != 0
    assert message in refused.stderr and BOB in refused.stderr, refused.stderr
    assert "Forbidden" in refused.stderr, refused.stderr
    allowed = create_as(kube_cluster, namespace, ALICE, doc)
    assert allowed.returncode == 0, allowed.stderr


@cluster
def test_a_plain_test_needs_nothing_more_and_metadata_patches_pass(
    kube_cluster: Any, namespace: str, policy: None
) -> None:
    plain = create_as(kube_cluster, namespace, BOB, test_spec("plain"))
    assert plain.returncode == 0, plain.stderr
    # The chart's own Locust ServiceAccount is the operator's default: no escalation.
    locust = test_spec("locust-sa", pod={"serviceAccountName": "endpoint-loadtest-locust"})
    named_default = create_as(kube_cluster, namespace, BOB, locust)
    assert named_default.returncode == 0, named_default.stderr
    # alice's test names a Secret carol may not read: carol (like the operator, which reads
    # no Secret) may still patch its metadata, but not change its spec.
    env = [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "db", "key": "k"}}}]
    assert (
        create_as(kube_cluster, namespace, ALICE, test_spec("named", pod={"env": env})).returncode
        == 0
    )
    annotate = kube_cluster.kubectl(
        "annotate", "--as", CAROL, "-n", namespace, "elt/named", "note=seen", check=False
    )
    assert annotate.returncode == 0, annotate.stderr
    respec = kube_cluster.kubectl(
        "patch", "--as", CAROL, "-n", namespace, "elt/named", "--type=merge",
        "-p", '{"spec":{"load":{"users":2}}}', check=False,
    )  # fmt: skip
    assert respec.returncode != 0 and "the spec names Secrets db" in respec.stderr, respec.stderr


def test_the_policy_can_be_turned_off_and_the_pod_settings_reach_the_operator(helm: Helm) -> None:
    assert len(find(helm.objects(), "ValidatingAdmissionPolicy")) == 1
    assert len(find(helm.objects(), "ValidatingAdmissionPolicyBinding")) == 1
    objects = helm.objects(
        "--set", "admissionPolicy.enabled=false",
        "--set", "settings.allowedImagePrefixes={corp.example/,ghcr.io/corp/}",
        "--set", "settings.allowedServiceAccounts={invoker}",
        "--set", "settings.allowSchedulingOverrides=true",
    )  # fmt: skip
    assert not find(objects, "ValidatingAdmissionPolicy")
    [deployment] = find(objects, "Deployment")
    env = {e["name"]: e.get("value") for e in
           deployment["spec"]["template"]["spec"]["containers"][0]["env"]}  # fmt: skip
    assert env["ELT_ALLOWED_IMAGE_PREFIXES"] == "corp.example/,ghcr.io/corp/"
    assert env["ELT_ALLOWED_SERVICE_ACCOUNTS"] == "invoker"
    assert env["ELT_ALLOW_SCHEDULING_OVERRIDES"] == "true"
    refused = helm(
        "template", "elt", str(ROOT / "charts" / "endpoint-loadtest-operator"),
        "--set", "settings.allowedImagePrefixes={a b}", check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "allowedImagePrefixes" in refused.stderr
