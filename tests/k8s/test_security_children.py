"""The run's Secret and NetworkPolicy, and the operator's settings for them (pure builders)."""

from __future__ import annotations

import pytest

from endpoint_loadtest.api.models import EndpointLoadTestSpec
from endpoint_loadtest.engine.plan import build_plan
from endpoint_loadtest.k8s.manifests import OperatorPeers, build_children, placement_for
from endpoint_loadtest.k8s.network_policy import build_network_policy
from endpoint_loadtest.k8s.run_secret import derive_token, secret_name
from endpoint_loadtest.k8s.security_settings import SecuritySettings

KEY = b"k" * 32
OPERATOR_NS = {"kubernetes.io/metadata.name": "elt-system"}
OPERATOR_PODS = {"app.kubernetes.io/name": "endpoint-loadtest-operator"}


def _spec(**cloudwatch: object) -> EndpointLoadTestSpec:
    return EndpointLoadTestSpec.model_validate(
        {
            "target": {"sagemaker": {"endpointName": "team-a-ranker", "region": "eu-west-1"}},
            "payload": {"body": "{}"},
            "load": {"users": 2, "workers": 2, "duration": "30s"},
            "cloudwatch": cloudwatch,
        }
    )


def _children(token: str = "t" * 43) -> dict[str, dict]:
    spec = _spec()
    plan = build_plan(
        spec,
        name="smoke",
        run_id="r1",
        placement=placement_for("smoke", "ns", spec, start_timeout_seconds=60),
    )
    built = build_children(
        "smoke", "ns", "r1", spec, plan, token=token,
        operator_peers=OperatorPeers(OPERATOR_NS, OPERATOR_PODS),
    )  # fmt: skip
    return {m["kind"] + "/" + m["metadata"]["name"]: m for m in built}


def test_the_token_is_per_run_and_the_same_for_any_operator_with_the_key() -> None:
    one = derive_token(KEY, "ns", "t", "uid-1", "r1")
    assert one == derive_token(KEY, "ns", "t", "uid-1", "r1") and len(one) == 43
    others = {
        derive_token(KEY, "ns", "t", "uid-1", "r2"),
        derive_token(KEY, "ns", "t", "uid-2", "r1"),
        derive_token(KEY, "other", "t", "uid-1", "r1"),
        derive_token(b"j" * 32, "ns", "t", "uid-1", "r1"),
    }
    assert one not in others and len(others) == 4
    with pytest.raises(ValueError, match="at least 32 bytes"):
        derive_token(b"short", "ns", "t", "u", "r")


def test_the_token_reaches_the_pods_as_a_read_only_file_never_as_env() -> None:
    children = _children(token="secret-token-" + "x" * 30)
    secret = children["Secret/smoke-token-r1"]
    assert secret["stringData"] == {"token": "secret-token-" + "x" * 30}
    assert secret["metadata"]["labels"]["perf.elt.dev/run"] == "r1"
    for key, manifest in children.items():
        if key != "Secret/smoke-token-r1":
            assert "secret-token-" not in str(manifest), key
    master = children["Deployment/smoke-master"]["spec"]["template"]["spec"]
    [volume] = [v for v in master["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == secret_name("smoke", "r1")
    [container] = master["containers"]
    assert {"name": "run-token", "mountPath": "/etc/elt/run-token", "readOnly": True} in (
        container["volumeMounts"]
    )
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ELT_TOKEN_FILE"] == "/etc/elt/run-token/token"
    assert container["readinessProbe"]["httpGet"]["path"] == "/elt/healthz"


def test_the_policy_lets_only_the_workers_reach_5557_and_the_operator_8089() -> None:
    policy = _children()["NetworkPolicy/smoke-ingress"]
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress"]  # egress stays open: the endpoint
    run = {"app.kubernetes.io/instance": "smoke", "perf.elt.dev/test": "smoke",
           "perf.elt.dev/run": "r1"}  # fmt: skip
    assert spec["podSelector"] == {"matchLabels": run}  # master and workers alike
    workers, operator = spec["ingress"]
    assert workers["ports"] == [{"protocol": "TCP", "port": 5557}]
    assert workers["from"] == [
        {"podSelector": {"matchLabels": {**run, "app.kubernetes.io/component": "worker"}}}
    ]
    assert operator["ports"] == [{"protocol": "TCP", "port": 8089}]
    assert operator["from"] == [
        {"namespaceSelector": {"matchLabels": OPERATOR_NS},
         "podSelector": {"matchLabels": OPERATOR_PODS}}
    ]  # fmt: skip


@pytest.mark.parametrize(("namespaces", "pods"), [({}, {}), (OPERATOR_NS, {}), ({}, OPERATOR_PODS)])
def test_without_both_operator_selectors_no_pod_may_reach_8089(namespaces, pods) -> None:
    policy = build_network_policy(
        "smoke", "r1", operator_namespace_selector=namespaces, operator_pod_selector=pods
    )
    assert [rule["ports"][0]["port"] for rule in policy["spec"]["ingress"]] == [5557]


@pytest.mark.parametrize(
    ("patterns", "allowed"),
    [
        ([], False),  # the default: the operator reads no endpoint's metrics
        (["team-a-*"], True),
        (["eu-west-1/team-a-*"], True),
        (["us-east-1/team-a-*"], False),
        (["team-b-*", "*/team-a-ranker"], True),
        (["team-a"], False),
    ],
)
def test_cloudwatch_is_read_only_for_allowed_endpoints(patterns, allowed) -> None:
    settings = SecuritySettings(cloudwatch_allowed_endpoints=patterns)
    settings.check_cloudwatch(_spec())  # not enabled: nothing to check
    if allowed:
        settings.check_cloudwatch(_spec(enabled=True))
        return
    with pytest.raises(ValueError) as refused:
        settings.check_cloudwatch(_spec(enabled=True))
    message = str(refused.value)
    assert "spec.cloudwatch.enabled" in message and "eu-west-1/team-a-ranker" in message
    assert "cloudwatch.allowedEndpoints (ELT_CLOUDWATCH_ALLOWED_ENDPOINTS)" in message


def test_settings_come_from_the_environment_with_clear_errors(tmp_path, monkeypatch) -> None:
    key = tmp_path / "key"
    key.write_bytes(b"z" * 40 + b"\n")
    monkeypatch.setenv("ELT_RUN_TOKEN_KEY_FILE", str(key))
    monkeypatch.setenv("ELT_OPERATOR_POD_SELECTOR", '{"app": "elt"}')
    monkeypatch.setenv("ELT_CLOUDWATCH_ALLOWED_ENDPOINTS", "a-*, us-east-1/b ,")
    found = SecuritySettings.from_environment()
    assert found.run_token_key == b"z" * 40 and found.run_token_key_configured
    assert found.operator_peers == OperatorPeers({}, {"app": "elt"})
    assert found.cloudwatch_allowed_endpoints == ["a-*", "us-east-1/b"]
    assert "z" * 40 not in repr(found)
    key.write_bytes(b"short")
    with pytest.raises(SystemExit, match=r"ELT_RUN_TOKEN_KEY_FILE: .* holds 5 bytes"):
        SecuritySettings.from_environment()
    monkeypatch.setenv("ELT_RUN_TOKEN_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(SystemExit, match="cannot read"):
        SecuritySettings.from_environment()
    monkeypatch.delenv("ELT_RUN_TOKEN_KEY_FILE")
    monkeypatch.setenv("ELT_OPERATOR_POD_SELECTOR", '["app"]')
    with pytest.raises(SystemExit, match="ELT_OPERATOR_POD_SELECTOR must be a JSON object"):
        SecuritySettings.from_environment()
