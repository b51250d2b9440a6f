"""The chart without a cluster: lint, values schema, what it renders, the image's Dockerfile."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from typing import Any

import pytest
import yaml
from chart_helpers import (
    CHART,
    IMAGES,
    NAMESPACED,
    RELEASE_FILE_CRD,
    ROOT,
    Helm,
    find,
    kube_version,
)

OPERATOR = "elt-endpoint-loadtest-operator"

# What the operator may do in a namespace where it runs tests (see templates/_helpers.tpl).
NAMESPACED_RULES = [
    {"apiGroups": ["perf.elt.dev"], "resources": ["endpointloadtests"],
     "verbs": ["get", "list", "watch", "patch", "delete"]},
    {"apiGroups": ["perf.elt.dev"], "resources": ["endpointloadtests/status"], "verbs": ["patch"]},
    {"apiGroups": [""], "resources": ["configmaps", "services"],
     "verbs": ["create", "list", "delete"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create", "list", "delete"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"],
     "verbs": ["create", "list", "delete"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "delete"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
    {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["list"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
]  # fmt: skip
CRD_RULE = {
    "apiGroups": ["apiextensions.k8s.io"],
    "resources": ["customresourcedefinitions"],
    "verbs": ["list", "watch"],
}
NAMESPACES_RULE = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]}


def operator_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = find(objects, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container["env"]}


@pytest.mark.parametrize("values", [[], [*NAMESPACED, "--set", "watchNamespaces={team-a,team-b}"]])
def test_helm_lint_strict(helm: Helm, values: list[str]) -> None:
    out = helm("lint", "--strict", str(CHART), "--kube-version", kube_version(), *values)
    assert "0 chart(s) failed" in out.stdout


def test_the_chart_ships_the_crd_of_crds_dir() -> None:
    source = ROOT / "crds" / RELEASE_FILE_CRD.name
    assert RELEASE_FILE_CRD.read_text() == source.read_text(), "stale: run `make chart-crds`"


def test_crd_is_kept_on_uninstall_and_can_be_left_out(helm: Helm) -> None:
    (crd,) = find(helm.objects(), "CustomResourceDefinition")
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert crd["spec"] == yaml.safe_load(RELEASE_FILE_CRD.read_text())["spec"]
    assert not find(helm.objects("--set", "crds.install=false"), "CustomResourceDefinition")


def test_cluster_rbac_grants_only_what_the_operator_uses(helm: Helm) -> None:
    objects = helm.objects()
    (role,) = find(objects, "ClusterRole")
    assert role["rules"] == [CRD_RULE, *NAMESPACED_RULES]
    assert not find(objects, "Role") and not find(objects, "RoleBinding")
    (binding,) = find(objects, "ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": OPERATOR, "namespace": "elt-system"}
    ]
    assert env_of(operator_container(objects))["ELT_NAMESPACES"] == ""


def test_namespaced_rbac_is_a_role_per_watched_namespace(helm: Helm) -> None:
    objects = helm.objects(*NAMESPACED, "--set", "watchNamespaces={team-a,team-b}")
    (cluster_role,) = find(objects, "ClusterRole")
    assert cluster_role["rules"] == [CRD_RULE, NAMESPACES_RULE]
    roles = find(objects, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    assert all(r["rules"] == NAMESPACED_RULES for r in roles)
    bindings = find(objects, "RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    env = env_of(operator_container(objects))
    assert env["ELT_NAMESPACES"] == "team-a,team-b"
    # The Locust pods' ServiceAccount exists where the tests run, without an API token.
    locust = [s for s in find(objects, "ServiceAccount", "endpoint-loadtest-locust")]
    assert sorted(s["metadata"]["namespace"] for s in locust) == ["team-a", "team-b"]
    assert all(s["automountServiceAccountToken"] is False for s in locust)
    assert env["ELT_LOCUST_SERVICE_ACCOUNT"] == "endpoint-loadtest-locust"
    # Without a list, namespaced means the release namespace.
    alone = helm.objects(*NAMESPACED)
    assert [r["metadata"]["namespace"] for r in find(alone, "Role")] == ["elt-system"]


def test_no_rule_reads_secrets_or_has_wildcards(helm: Helm) -> None:
    for values in ([], NAMESPACED):
        objects = helm.objects(*values)
        for obj in find(objects, "ClusterRole") + find(objects, "Role"):
            for rule in obj["rules"]:
                assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
                if "secrets" in rule["resources"]:  # the run's token: made, never read
                    assert rule == {"apiGroups": [""], "resources": ["secrets"],
                                    "verbs": ["create", "delete"]}, rule  # fmt: skip
                # Nothing rewritten whole; nothing read one by one but the tests themselves
                # (one read of a test whose watch event lags behind its status).
                forbidden = {"update", "escalate", "bind", "impersonate"}
                if rule["resources"] != ["endpointloadtests"]:
                    forbidden.add("get")
                assert not forbidden & set(rule["verbs"]), rule


def test_operator_deployment_defaults(helm: Helm) -> None:
    objects = helm.objects()
    (deployment,) = find(objects, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == OPERATOR
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = operator_container(objects)
    assert container["image"] == "ghcr.io/elt-dev/endpoint-loadtest-operator:0.1.0"
    assert container["command"] == ["elt-operator"]
    assert "--liveness=http://$(POD_IP):8080/healthz" in container["args"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    env = env_of(container)
    assert env["ELT_LOCUST_IMAGE"] == container["image"]
    assert json.loads(env["ELT_LOCUST_RESOURCES"])["requests"]["cpu"] == "500m"
    assert (env["ELT_MAX_USERS"], env["ELT_MAX_WORKERS"], env["ELT_MAX_DURATION_SECONDS"]) == (
        "1000", "20", "7200",
    )  # fmt: skip
    # Cluster-wide with no namespaces listed: no Locust ServiceAccount, pods use `default`.
    assert "ELT_LOCUST_SERVICE_ACCOUNT" not in env
    assert [s["metadata"]["name"] for s in find(objects, "ServiceAccount")] == [OPERATOR]
    (service,) = find(objects, "Service")
    assert service["spec"]["ports"][0]["name"] == "metrics"
    assert service["spec"]["ports"][0]["port"] == 9090
    assert not find(objects, "ServiceMonitor") and not find(objects, "ConfigMap")


ROLE_ARN = "eks.amazonaws.com/role-arn"
ARN = "eks\\.amazonaws\\.com/role-arn"


def test_values_reach_the_deployment(helm: Helm) -> None:
    objects = helm.objects(
        "--set", "image.tag=1.2.3", "--set", "logFormat=json",
        "--set", "logLevel=debug", "--set", "settings.maxUsers=10",
        "--set", f"serviceAccount.annotations.{ARN}=arn:aws:iam::1:role/op",
        "--set", "locust.serviceAccount.namespaces={perf}",
        "--set", f"locust.serviceAccount.annotations.{ARN}=arn:aws:iam::1:role/lg",
        "--set", "locust.image.repository=registry.example/elt",
        "--set", "imagePullSecrets[0].name=regcred",
        "--set", "nodeSelector.pool=ops", "--set", "tolerations[0].key=ops",
        "--set", "tolerations[0].operator=Exists",
    )  # fmt: skip
    container = operator_container(objects)
    assert container["image"].endswith(":1.2.3")
    assert "--log-format=json" in container["args"] and "--log-level=debug" in container["args"]
    env = env_of(container)
    assert env["ELT_MAX_USERS"] == "10"
    assert env["ELT_LOCUST_IMAGE"] == "registry.example/elt:1.2.3"
    assert env["ELT_LOCUST_SERVICE_ACCOUNT"] == "endpoint-loadtest-locust"
    accounts = {s["metadata"]["name"]: s for s in find(objects, "ServiceAccount")}
    assert accounts[OPERATOR]["metadata"]["annotations"][ROLE_ARN] == "arn:aws:iam::1:role/op"
    locust = accounts["endpoint-loadtest-locust"]["metadata"]
    assert locust["namespace"] == "perf"
    assert locust["annotations"][ROLE_ARN] == "arn:aws:iam::1:role/lg"
    pod = find(objects, "Deployment")[0]["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["nodeSelector"] == {"pool": "ops"}
    assert pod["tolerations"] == [{"key": "ops", "operator": "Exists"}]


def test_servicemonitor_and_dashboard_are_optional(helm: Helm) -> None:
    objects = helm.objects(
        "--set", "metrics.serviceMonitor.enabled=true", "--set", "grafanaDashboard.enabled=true"
    )  # fmt: skip
    (monitor,) = find(objects, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    (dashboard,) = find(objects, "ConfigMap")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    for text in dashboard["data"].values():
        assert json.loads(text)["title"]


@pytest.mark.parametrize(
    "bad",
    ["rbac.scope=everywhere", "replicaCount=6", "logFormat=xml", "settings.maxUsers=-1",
     "watchNamespaces={Not_A_Namespace}", "unknownKey=1"],
)  # fmt: skip
def test_schema_refuses_bad_values(helm: Helm, bad: str) -> None:
    out = helm(
        "template", "elt", str(CHART), "--kube-version", kube_version(), "--set", bad,
        check=False,
    )  # fmt: skip
    assert out.returncode != 0 and "schema" in out.stderr.lower(), out.stderr


# -- the image ------------------------------------------------------------------------


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = ROOT / ".venv" / "bin" / "hadolint"
    out = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(IMAGES / "Dockerfile")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_dockerfile_is_multistage_slim_and_non_root() -> None:
    text = (IMAGES / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base.group(1)), "pinned slim base"
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2 and stages[0].startswith("${PYTHON_IMAGE} AS build")
    final = stages[1]
    assert not re.search(r"gcc|build-essential|apt-get install", final)
    assert re.search(r"^USER 10001:10001$", final, re.M)
    entry = re.search(r"^ENTRYPOINT (.+)$", final, re.M)
    assert entry
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert json.loads(entry.group(1))[0] in scripts
    assert {"elt", "elt-locust", "elt-operator"} <= set(scripts)
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") :][:1] == ["*"] and "!operator/" in ignored


def test_the_master_and_network_settings_reach_the_operator(helm: Helm) -> None:
    objects = helm.objects("--set", "cloudwatch.allowedEndpoints={team-a-*,us-east-1/b}")
    container = operator_container(objects)
    env = env_of(container)
    assert env["ELT_CLOUDWATCH_ALLOWED_ENDPOINTS"] == "team-a-*,us-east-1/b"
    assert env_of(operator_container(helm.objects()))["ELT_CLOUDWATCH_ALLOWED_ENDPOINTS"] == ""
    assert json.loads(env["ELT_OPERATOR_NAMESPACE_SELECTOR"]) == {
        "kubernetes.io/metadata.name": "elt-system"
    }
    (deployment,) = find(objects, "Deployment")
    pod = deployment["spec"]["template"]
    assert json.loads(env["ELT_OPERATOR_POD_SELECTOR"]).items() <= pod["metadata"]["labels"].items()
    # The run token key: a Secret of the release, mounted as a file, never an env value.
    (key,) = [s for s in find(objects, "Secret") if s["metadata"]["name"].endswith("token-key")]
    assert len(key["data"]["key"]) >= 64
    [volume] = [v for v in pod["spec"]["volumes"] if v["name"] == "run-token-key"]
    assert volume["secret"]["secretName"] == key["metadata"]["name"]
    assert env["ELT_RUN_TOKEN_KEY_FILE"] == "/etc/elt/run-token-key/key"
    own = helm.objects("--set", "runTokens.existingSecret=my-key")
    assert not [s for s in find(own, "Secret") if s["metadata"]["name"].endswith("token-key")]
    [volume] = [v for v in find(own, "Deployment")[0]["spec"]["template"]["spec"]["volumes"]
                if v["name"] == "run-token-key"]  # fmt: skip
    assert volume["secret"]["secretName"] == "my-key"
