"""The CRD: committed == rendered from the models, and structural for the API server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from endpoint_loadtest.api import crd, models

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "crds" / crd.CRD_FILENAME
FORBIDDEN = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "title", "const", "nullable"}


def _schema() -> dict[str, Any]:
    version = crd.build_crd()["spec"]["versions"][0]
    return version["schema"]["openAPIV3Schema"]


def _walk(node: Any, path: str = ""):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if key == "properties":
                for name, prop in value.items():
                    yield from _walk(prop, f"{path}.{name}")
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                yield from _walk(value, f"{path}[{key}]")


def test_committed_crd_equals_rendered() -> None:
    rendered = subprocess.run(
        [sys.executable, "-m", "endpoint_loadtest.api.crd"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert rendered == crd.render_crd()
    assert COMMITTED.read_text() == rendered, (
        "crds/ is stale: run `make crds` (python -m endpoint_loadtest.api.crd --output crds/)"
    )


def test_write_to_directory(tmp_path: Path) -> None:
    assert crd.main(["--output", str(tmp_path)]) == 0
    assert (tmp_path / crd.CRD_FILENAME).read_text() == crd.render_crd()


def test_schema_is_structural() -> None:
    schema = _schema()
    text = yaml.safe_dump(schema)
    assert "$ref" not in text
    for path, node in _walk(schema):
        assert not FORBIDDEN & node.keys(), f"{path}: {sorted(FORBIDDEN & node.keys())}"
        kind = node.get("type")
        assert kind != "null", path
        if "properties" in node:
            assert kind == "object", path
        if node.get("x-kubernetes-int-or-string"):
            assert "type" not in node, path
        elif not node.get("x-kubernetes-preserve-unknown-fields"):
            assert kind in {"object", "array", "string", "integer", "number", "boolean"}, path
        for key in ("exclusiveMinimum", "exclusiveMaximum"):
            if key in node:
                assert node[key] is True, path
        if "default" in node:
            assert node["default"] is not None, path
        assert node.get("additionalProperties") is not False, path


def test_fields_are_camel_case_with_bounds() -> None:
    spec = _schema()["properties"]["spec"]["properties"]
    load = spec["load"]["properties"]
    assert set(load) >= {"users", "spawnRate", "workers", "duration", "warmup", "requestTimeout"}
    assert load["users"] == {**load["users"], "type": "integer", "minimum": 1, "maximum": 100000}
    assert load["spawnRate"]["minimum"] == 0 and load["spawnRate"]["exclusiveMinimum"] is True
    assert load["duration"]["x-kubernetes-int-or-string"] is True
    assert "pattern" in load["duration"]
    thresholds = spec["thresholds"]["properties"]
    assert "minTPS" in thresholds and thresholds["maxErrorRate"]["maximum"] == 1
    assert spec["target"]["properties"]["sagemaker"]["required"] == ["endpointName", "region"]
    assert set(_schema()["required"]) == {"spec"}


def test_cel_rules_present() -> None:
    spec = _schema()["properties"]["spec"]["properties"]
    rules = {
        name: [v["rule"] for v in spec[name].get("x-kubernetes-validations", [])]
        for name in ("target", "payload", "load")
    }
    assert all(rules.values()), rules
    bodies = spec["payload"]["properties"]["bodies"]["items"]
    assert bodies["x-kubernetes-validations"][0]["rule"] == (
        "has(self.body) != has(self.configMapKeyRef)"
    )
    value_from = spec["pod"]["properties"]["env"]["items"]["properties"]["valueFrom"]
    assert value_from["x-kubernetes-validations"]


def test_exactly_one_target_rule() -> None:
    target = _schema()["properties"]["spec"]["properties"]["target"]
    (rule,) = target["x-kubernetes-validations"]
    assert rule["rule"] == "[has(self.sagemaker), has(self.http)].filter(x, x).size() == 1"
    assert "exactly one of target.sagemaker or target.http" in rule["message"]
    # the pydantic side rejects the same documents with the same words
    for both_or_none in (
        {},
        {"sagemaker": {"endpointName": "a", "region": "us-east-1"}, "http": {"url": "http://x/"}},
    ):
        try:
            models.Target.model_validate(both_or_none)
        except ValueError as error:
            assert rule["message"] in str(error)
        else:
            raise AssertionError(f"accepted {both_or_none}")


def test_names_status_and_printer_columns() -> None:
    document = crd.build_crd()
    assert document["metadata"]["name"] == "endpointloadtests.perf.elt.dev"
    names = document["spec"]["names"]
    assert names["kind"] == "EndpointLoadTest" and names["shortNames"] == ["elt"]
    (version,) = document["spec"]["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert set(columns) == {"Endpoint", "Phase", "Verdict", "TPS", "P99 ms", "Max TPS", "Age"}
    assert columns["Max TPS"]["jsonPath"] == ".status.capacity.maxTPS"
    assert columns["Verdict"]["jsonPath"] == ".status.verdict.result"
    assert columns["TPS"]["type"] == "number"
    assert columns["Age"]["type"] == "date"
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert status["kopf"]["x-kubernetes-preserve-unknown-fields"] is True
    assert status["phase"]["enum"] == [
        "Pending",
        "Starting",
        "Running",
        "Evaluating",
        "Completed",
        "Error",
    ]
    # every printer column points at a field that exists in the schema
    root = version["schema"]["openAPIV3Schema"]
    for column in columns.values():
        node = root
        for part in column["jsonPath"].strip(".").split("."):
            if part == "metadata":
                break
            node = node["properties"][part]
        else:
            assert node.get("type") == column["type"] or column["type"] == "date"


def test_import_operator_is_the_standard_library() -> None:
    """operator/ is a source root, never a package: `import operator` stays the stdlib's."""
    code = (
        "import operator, sysconfig, pathlib, endpoint_loadtest\n"
        "stdlib = pathlib.Path(sysconfig.get_paths()['stdlib']).resolve()\n"
        "where = pathlib.Path(operator.__file__).resolve()\n"
        "print(operator.add(2, 3), where.parent == stdlib)"
    )
    for cwd in (ROOT, ROOT / "operator"):
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=cwd
        ).stdout.split()
        assert out == ["5", "True"], (cwd, out)
    assert not (ROOT / "operator" / "__init__.py").exists()


def test_numbers_rules_reach_the_api_server() -> None:
    spec = _schema()["properties"]["spec"]
    thresholds = spec["properties"]["thresholds"]["properties"]
    assert thresholds["maxErrorRate"]["default"] == 0.01  # the API server fills it in
    load_rules = {v["message"]: v for v in spec["properties"]["load"]["x-kubernetes-validations"]}
    assert load_rules[models.WORKERS_ABOVE_USERS]["fieldPath"] == ".workers"
    cloudwatch = spec["properties"]["cloudwatch"]["x-kubernetes-validations"]
    assert [(r["rule"], r["fieldPath"]) for r in cloudwatch] == [
        ("!has(self.period) || self.period in [1, 5, 10, 30] || self.period % 60 == 0", ".period")
    ]
    assert any(v["message"] == models.CLOUDWATCH_NEEDS_SAGEMAKER
               for v in spec["x-kubernetes-validations"])  # fmt: skip
    region = spec["properties"]["target"]["properties"]["sagemaker"]["properties"]["region"]
    assert region["pattern"] == models.AWS_REGION and region["maxLength"] == 32
