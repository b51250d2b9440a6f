"""The env and header rules of a spec (pydantic and CRD) and the load generator's
reading of headers from Secrets."""

from __future__ import annotations

import re
from typing import Any

import pytest

from endpoint_loadtest.api import crd
from endpoint_loadtest.api.loader import DocumentError, parse_document
from endpoint_loadtest.api.pod_security import literal_env_value
from endpoint_loadtest.loadgen.headers import HeaderSecretError, request_headers, secret_values


def _doc(target: dict[str, Any] | None = None, **pod: Any) -> dict[str, Any]:
    return {
        "apiVersion": "perf.elt.dev/v1alpha1",
        "kind": "EndpointLoadTest",
        "metadata": {"name": "t"},
        "spec": {
            "target": target or {"sagemaker": {"endpointName": "e", "region": "us-east-1"}},
            "payload": {"body": "{}"},
            "load": {"users": 1, "duration": "5s"},
            "pod": pod,
        },
    }


@pytest.mark.parametrize("name", ["PYTHONPATH", "pythonstartup", "LD_PRELOAD", "ELT_PLAN_FILE"])
def test_reserved_env_names_are_refused_naming_the_field(name: str) -> None:
    env = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": name, "value": "x"}]
    with pytest.raises(DocumentError, match=re.escape("spec.pod.env[2].name: ") + ".*PYTHON, LD_"):
        parse_document(_doc(env=env))


def test_a_reserved_env_from_prefix_is_refused() -> None:
    with pytest.raises(DocumentError, match=re.escape("spec.pod.envFrom[0].prefix: 'LD_'")):
        parse_document(_doc(envFrom=[{"prefix": "LD_", "secretRef": {"name": "s"}}]))


def test_the_simulators_wiring_stays_allowed() -> None:
    env = [{"name": "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "value": "http://10.0.0.1:8080"}]
    parse_document(_doc(env=env, envFrom=[{"secretRef": {"name": "aws-sim"}}]))


@pytest.mark.parametrize(
    "header", ["Authorization", "proxy-authorization", "COOKIE", "X-Api-Key", "api-key"]
)
def test_credential_headers_in_the_clear_are_refused_pointing_to_headers_from(header: str) -> None:
    target = {"http": {"url": "http://m/p", "headers": {"X-Ok": "1", header: "secret"}}}
    with pytest.raises(
        DocumentError, match=r"take them from a Secret with target\.http\.headersFrom"
    ):
        parse_document(_doc(target))


def test_a_header_may_come_from_one_place_only() -> None:
    ref = {"secretKeyRef": {"name": "s", "key": "k"}}
    both = {"http": {"url": "http://m/p", "headers": {"X-T": "1"},
                     "headersFrom": [{"name": "x-t", **ref}]}}  # fmt: skip
    with pytest.raises(DocumentError, match=re.escape("headersFrom[0].name: x-t is also in")):
        parse_document(_doc(both))
    twice = {
        "http": {"url": "http://m/p", "headersFrom": [{"name": "A", **ref}, {"name": "a", **ref}]}
    }
    with pytest.raises(DocumentError, match=re.escape("headersFrom[1].name: a appears twice")):
        parse_document(_doc(twice))


def test_the_crd_carries_the_same_rules() -> None:
    schema = crd.build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = schema["properties"]["spec"]["properties"]
    env_item = spec["pod"]["properties"]["env"]["items"]
    assert [r["fieldPath"] for r in env_item["x-kubernetes-validations"]] == [".name"]
    http = spec["target"]["properties"]["http"]
    messages = [r["message"] for r in http["x-kubernetes-validations"]]
    assert any("target.http.headersFrom" in m for m in messages)
    assert "pod.env" not in http["properties"]["headers"]["description"]


def test_literal_env_values_double_every_dollar() -> None:
    assert literal_env_value("https://x/$(S)") == "https://x/$$(S)"
    assert literal_env_value("$$(S)") == "$$$$(S)"


BEARER = {"name": "Authorization", "env": "ELT_HEADER_0", "prefix": "Bearer "}
PLANNED = {"kind": "http", "url": "http://m/p", "headers": {"X-T": "1"}, "headersFrom": [BEARER]}


def test_the_load_generator_reads_header_values_from_its_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ELT_HEADER_0", "s3cr3t\n")  # a Secret made from a file
    assert request_headers(PLANNED) == {
        "Content-Type": "application/json", "X-T": "1", "Authorization": "Bearer s3cr3t",
    }  # fmt: skip
    assert secret_values(PLANNED) == ["s3cr3t"]


@pytest.mark.parametrize(("value", "needle"), [(None, "ELT_HEADER_0 is not set"),
                                               ("a\r\nX-Evil: 1", "line break")])  # fmt: skip
def test_an_unusable_header_variable_is_refused_without_its_value(
    monkeypatch: pytest.MonkeyPatch, value: str | None, needle: str
) -> None:
    if value is None:
        monkeypatch.delenv("ELT_HEADER_0", raising=False)
    else:
        monkeypatch.setenv("ELT_HEADER_0", value)
    with pytest.raises(HeaderSecretError, match=needle) as refused:
        request_headers(PLANNED)
    assert "X-Evil" not in str(refused.value)
