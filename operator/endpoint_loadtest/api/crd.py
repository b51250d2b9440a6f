"""Render the CustomResourceDefinition from the pydantic models.

pydantic emits JSON Schema 2020-12; the API server wants a *structural* OpenAPI v3
schema: no $ref, no `null` types, no `title`, boolean exclusiveMinimum, int-or-string
without a type, and no additionalProperties=false beside properties. This module is
that translation and nothing else. `make crds` writes the result to crds/.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

import yaml

from endpoint_loadtest.api import models

CRD_FILENAME = f"{models.PLURAL}.{models.GROUP}.yaml"

# Keys of JSON Schema that a structural OpenAPI v3 schema keeps as they are.
_KEPT = {
    "type",
    "description",
    "properties",
    "items",
    "required",
    "enum",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "maxProperties",
    "additionalProperties",
    "default",
    "x-kubernetes-validations",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
}


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    """Inline every $ref, recursively."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = copy.deepcopy(defs[node["$ref"].split("/")[-1]])
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return _resolve(merged, defs)
        return {k: _resolve(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, defs) for v in node]
    return node


def _drop_null(node: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [X, {type: null}]` (an Optional field) becomes X: absent means unset."""
    any_of = node.get("anyOf")
    if not any_of:
        return node
    options = [o for o in any_of if o.get("type") != "null"]
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    if len(options) == 1:
        return {**options[0], **rest}
    types = {o.get("type") for o in options}
    if types == {"integer", "string"}:
        merged: dict[str, Any] = {"x-kubernetes-int-or-string": True}
        for option in options:
            merged.update({k: v for k, v in option.items() if k != "type"})
        return {**merged, **rest}
    raise ValueError(f"cannot express anyOf {any_of} in a structural schema")


def to_structural(node: Any) -> Any:
    """Translate one resolved JSON Schema node into structural OpenAPI v3."""
    if isinstance(node, list):
        return [to_structural(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = _drop_null(node)
    if "const" in node:
        node = {**node, "enum": [node["const"]]}
        node.pop("const")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "exclusiveMinimum":
            out["minimum"] = value
            out["exclusiveMinimum"] = True
        elif key == "exclusiveMaximum":
            out["maximum"] = value
            out["exclusiveMaximum"] = True
        elif key == "properties":
            out["properties"] = {name: to_structural(prop) for name, prop in value.items()}
        elif key in ("items", "additionalProperties"):
            if value is False:
                continue  # unknown fields are pruned or rejected by the API server anyway
            out[key] = to_structural(value)
        elif key == "default" and value is None:
            continue
        elif key in _KEPT:
            out[key] = value
    if out.get("x-kubernetes-preserve-unknown-fields") and out.get("additionalProperties") is True:
        out.pop("additionalProperties")  # a free-form object: preserving says it all
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if "properties" in out:
        out["type"] = "object"
    return out


def openapi_schema(model: type[models.ApiModel]) -> dict[str, Any]:
    """The structural schema of one model, $refs inlined."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    defs = schema.pop("$defs", {})
    return to_structural(_resolve(schema, defs))


def _status_schema() -> dict[str, Any]:
    schema = openapi_schema(models.EndpointLoadTestStatus)
    # kopf keeps its own bookkeeping under status.kopf; let it through.
    schema["properties"]["kopf"] = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "description": "Operator bookkeeping.",
    }
    schema["properties"]["lifecycle"].pop("additionalProperties", None)
    return schema


def build_crd() -> dict[str, Any]:
    """The whole CustomResourceDefinition, as a dict ready for YAML."""
    spec_schema = openapi_schema(models.EndpointLoadTestSpec)
    root = {
        "type": "object",
        "description": "A load test of an ML inference endpoint, judged against thresholds.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "perf.elt.dev/v1alpha1"},
            "kind": {"type": "string", "description": "EndpointLoadTest"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": _status_schema(),
        },
    }
    columns = [
        ("Endpoint", "string", ".spec.target.sagemaker.endpointName", None),
        ("Phase", "string", ".status.phase", None),
        ("Verdict", "string", ".status.verdict.result", None),
        ("TPS", "number", ".status.results.tps", None),
        ("P99 ms", "number", ".status.results.latencyMs.p99", None),
        ("Max TPS", "number", ".status.capacity.maxTPS", None),
        ("Age", "date", ".metadata.creationTimestamp", None),
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{models.PLURAL}.{models.GROUP}",
            "labels": {"app.kubernetes.io/name": "endpoint-loadtest-operator"},
        },
        "spec": {
            "group": models.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": models.KIND,
                "listKind": f"{models.KIND}List",
                "plural": models.PLURAL,
                "singular": models.SINGULAR,
                "shortNames": models.SHORT_NAMES,
                "categories": models.CATEGORIES,
            },
            "versions": [
                {
                    "name": models.VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": root},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": name, "type": kind, "jsonPath": path}
                        | ({"priority": priority} if priority else {})
                        for name, kind, path, priority in columns
                    ],
                }
            ],
        },
    }


def render_crd() -> str:
    header = (
        "# Generated by `make crds` from operator/endpoint_loadtest/api/models.py. Do not edit.\n"
    )
    return header + yaml.safe_dump(build_crd(), sort_keys=False, width=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the EndpointLoadTest CRD.")
    parser.add_argument("--output", type=Path, help="directory to write into (default stdout)")
    args = parser.parse_args(argv)
    text = render_crd()
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / CRD_FILENAME).write_text(text)
        print(f"wrote {args.output / CRD_FILENAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
