"""The API models and the loader: valid documents load, every bad one names its field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from endpoint_loadtest.api.loader import DocumentError, load_document, parse_document
from endpoint_loadtest.api.models import EndpointLoadTest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(
    p for p in (ROOT / "examples").glob("*.yaml") if "kind: EndpointLoadTest" in p.read_text()
)

BASE: dict[str, Any] = {
    "apiVersion": "perf.elt.dev/v1alpha1",
    "kind": "EndpointLoadTest",
    "metadata": {"name": "t"},
    "spec": {
        "target": {"sagemaker": {"endpointName": "ep", "region": "us-east-1"}},
        "payload": {"body": "{}"},
        "load": {"users": 2, "duration": "10s"},
    },
}


def doc(**changes: Any) -> dict[str, Any]:
    """BASE with dotted-path changes; a value of None deletes the key."""
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return data


def error_of(data: Any) -> str:
    with pytest.raises(DocumentError) as info:
        parse_document(data)
    return str(info.value)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_load(path: Path) -> None:
    test = load_document(path)
    assert isinstance(test, EndpointLoadTest)
    assert test.spec.target.describe()


def test_examples_exist() -> None:
    assert EXAMPLES, "examples/ must hold at least one document"


def test_minimal_document_defaults() -> None:
    test = parse_document(BASE)
    load = test.spec.load
    assert (load.workers, load.spawn_rate, load.warmup_seconds) == (1, 10, 0.0)
    assert load.request_timeout_seconds == 70.0
    assert test.spec.thresholds.min_requests == 100
    assert test.spec.target.sagemaker is not None
    assert test.spec.target.sagemaker.content_type == "application/json"


def test_wire_round_trip_is_camel_case() -> None:
    data = doc(spec__thresholds={"minTPS": 5, "maxErrorRate": 0.1, "latencyMs": {"p99": 200}})
    test = parse_document(data)
    wire = test.spec.to_wire()
    assert wire["thresholds"]["minTPS"] == 5
    assert wire["thresholds"]["latencyMs"] == {"p99": 200}
    assert wire["target"]["sagemaker"]["endpointName"] == "ep"
    assert parse_document({**data, "spec": wire}).spec == test.spec


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        # unknown fields, at several depths
        ({"spec__load__userz": 3}, "spec.load.userz", "unknown field"),
        (
            {"spec__target__sagemaker__endpointname": "x"},
            "spec.target.sagemaker.endpointname",
            "unknown field",
        ),
        ({"spec__extra": 1}, "spec.extra", "unknown field"),
        # wrong types
        ({"spec__load__users": "many"}, "spec.load.users", "integer"),
        ({"spec__load__workers": [1]}, "spec.load.workers", "integer"),
        ({"spec__thresholds": {"maxErrorRate": "low"}}, "spec.thresholds.maxErrorRate", "number"),
        ({"spec__load__duration": True}, "spec.load.duration", "duration"),
        ({"spec__load__duration": "ten seconds"}, "spec.load.duration", "invalid duration"),
        # out of range
        ({"spec__load__users": 0}, "spec.load.users", ">= 1"),
        ({"spec__load__workers": 501}, "spec.load.workers", "<= 500"),
        ({"spec__load__spawnRate": 0}, "spec.load.spawnRate", "> 0"),
        ({"spec__thresholds": {"maxErrorRate": 1.5}}, "spec.thresholds.maxErrorRate", "<= 1"),
        ({"spec__thresholds": {"latencyMs": {"p99": -1}}}, "spec.thresholds.latencyMs.p99", "> 0"),
        ({"spec__thresholds": {"minTPS": -1}}, "spec.thresholds.minTPS", ">= 0"),
        ({"spec__load__duration": -5}, "spec.load.duration", "negative"),
        ({"spec__load__duration": "0s"}, "spec.load", "longer than 0s"),
        ({"spec__target__sagemaker__region": "Mars"}, "spec.target.sagemaker.region", "pattern"),
        (
            {"spec__target__sagemaker__endpointName": "bad_name"},
            "spec.target.sagemaker.endpointName",
            "pattern",
        ),
        ({"spec__target": {"http": {"url": "ftp://x"}}}, "spec.target.http.url", "pattern"),
        # missing and mutually exclusive
        ({"spec__load__users": None}, "spec.load", "set either load.users"),
        ({"spec__payload": None}, "spec.payload", "required field is missing"),
        (
            {"spec__target__sagemaker__region": None},
            "spec.target.sagemaker.region",
            "required field is missing",
        ),
        ({"spec__target__http": {"url": "http://x/"}}, "spec.target", "exactly one of"),
        ({"spec__target": {}}, "spec.target", "exactly one of"),
        (
            {"spec__payload": {"body": "{}", "configMapKeyRef": {"name": "a", "key": "b"}}},
            "spec.payload",
            "exactly one of",
        ),
        (
            {
                "spec__load": {
                    "users": 1,
                    "duration": "5s",
                    "stages": [{"duration": "5s", "users": 1}],
                }
            },
            "spec.load",
            "set either",
        ),
        (
            {"spec__load": {"stages": [{"duration": "5s", "users": 1}], "warmup": "10s"}},
            "spec.load",
            "warmup must be shorter",
        ),
        (
            {"spec__load": {"stages": [{"duration": "5s", "users": -1}]}},
            "spec.load.stages[0].users",
            ">= 0",
        ),
        (
            {"spec__payload": {"bodies": [{"name": "a"}]}},
            "spec.payload.bodies[0]",
            "exactly one of body or configMapKeyRef",
        ),
    ],
)
def test_bad_input_names_the_field(changes: dict[str, Any], field: str, words: str) -> None:
    message = error_of(doc(**changes))
    lines = message.splitlines()[1:]
    assert lines, message
    assert any(line.startswith(f"{field}: ") and words in line for line in lines), message
    assert "Traceback" not in message
    assert "function-after" not in message and "[type=" not in message


def test_every_line_uses_camel_case_paths() -> None:
    message = error_of(
        doc(spec__load__spawnRate=-1, spec__thresholds={"minRequests": -1, "maxErrorRate": 2})
    )
    assert "spec.load.spawnRate" in message
    assert "spec.thresholds.minRequests" in message
    assert "spawn_rate" not in message and "min_requests" not in message


def test_wrong_kind_and_api_version() -> None:
    assert "expected apiVersion" in error_of({**BASE, "kind": "Pod"})
    assert "expected apiVersion" in error_of({**BASE, "apiVersion": "v1"})
    assert "expected a mapping" in error_of(["not", "a", "mapping"])


def test_load_document_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(DocumentError, match="cannot read"):
        load_document(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("spec: [unclosed\n")
    with pytest.raises(DocumentError, match=r"not valid YAML at line \d+"):
        load_document(broken)
    two = tmp_path / "two.yaml"
    two.write_text(yaml.safe_dump(BASE) + "---\n" + yaml.safe_dump(BASE))
    with pytest.raises(DocumentError, match="exactly one EndpointLoadTest"):
        load_document(two)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(DocumentError):
        load_document(empty)


def test_other_documents_beside_the_test_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    path.write_text(yaml.safe_dump(other) + "---\n" + yaml.safe_dump(BASE))
    assert load_document(path).metadata.name == "t"


def test_durations_accept_numbers_and_compound_strings() -> None:
    test = parse_document(doc(spec__load__duration=90, spec__load__warmup="1m30s"))
    assert test.spec.load.duration_seconds == 90
    assert test.spec.load.warmup_seconds == 90
    staged = parse_document(
        doc(spec__load={"stages": [{"duration": "1h", "users": 1}, {"duration": 30, "users": 0}]})
    )
    assert staged.spec.load.total_stage_seconds == 3630
    assert staged.spec.load.peak_users == 1


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        # what CloudWatch would refuse: every scrape would fail
        ({"spec__cloudwatch": {"enabled": True, "period": 90}}, "spec.cloudwatch.period", "60"),
        ({"spec__cloudwatch": {"period": 45}}, "spec.cloudwatch.period", "multiple of 60"),
        # a closed model with idle workers
        ({"spec__load__workers": 3}, "spec.load", "load.workers 3 > users 2"),
        (
            {"spec__load": {"workers": 4, "stages": [{"duration": "5s", "users": 3}]}},
            "spec.load",
            "load.workers 4 > users 3",
        ),
        # an in-flight cap the workers cannot keep (each keeps at least one)
        (
            {"spec__load": {"targetTPS": 5, "maxInFlight": 2, "workers": 3, "duration": "5s"}},
            "spec.load",
            "load.maxInFlight 2 < workers 3",
        ),
        # not the shape of an AWS region
        ({"spec__target__sagemaker__region": "us-east-99x"}, "spec.target.sagemaker.region", ""),
        ({"spec__target__sagemaker__region": "ab-cdefgh-1"}, "spec.target.sagemaker.region", ""),
        ({"spec__target__sagemaker__region": "us-east-1" * 4}, "spec.target.sagemaker.region", ""),
        # would fail every request, or read metrics no endpoint publishes
        ({"spec__load__requestTimeout": "0s"}, "spec.load", "requestTimeout"),
        (
            {"spec__target": {"http": {"url": "http://x/"}}, "spec__cloudwatch": {"enabled": True}},
            "spec",
            "cloudwatch.enabled needs target.sagemaker",
        ),
    ],
)
def test_what_would_fail_or_mislead_later_is_refused(
    changes: dict[str, Any], field: str, words: str
) -> None:
    message = error_of(doc(**changes))
    lines = message.splitlines()[1:]
    assert any(line.startswith(f"{field}: ") and words in line for line in lines), message


@pytest.mark.parametrize(
    "region",
    ["us-east-1", "eu-central-2", "ap-southeast-4", "us-gov-west-1", "cn-northwest-1",
     "us-isob-east-1", "il-central-1", "mx-central-1"],
)  # fmt: skip
def test_real_regions_are_accepted(region: str) -> None:
    assert parse_document(doc(spec__target__sagemaker__region=region))


def test_what_stays_valid() -> None:
    for period in (60, 300, 3600, 1, 5, 10, 30):  # 1-30: high-resolution metrics
        assert parse_document(doc(spec__cloudwatch={"period": period}))
    assert parse_document(doc(spec__load__workers=2))  # as many workers as users
    open_model = {"targetTPS": 5, "workers": 4, "duration": "5s"}
    assert parse_document(doc(spec__load=open_model))  # no users to compare with
    staged = {
        "workers": 3,
        "stages": [{"duration": "5s", "users": 1}, {"duration": "5s", "users": 3}],
    }
    assert parse_document(doc(spec__load=staged))  # the peak counts


def test_max_error_rate_defaults_to_one_percent_and_can_be_loosened() -> None:
    assert parse_document(BASE).spec.thresholds.max_error_rate == 0.01
    loose = parse_document(doc(spec__thresholds={"maxErrorRate": 1}))
    assert loose.spec.thresholds.max_error_rate == 1
