"""Read a test document and turn every mistake in it into one clear sentence.

`elt run` and `elt validate` share this, so a document that validates is a
document that runs. Errors name the field in the document's own camelCase path.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from endpoint_loadtest.api.models import API_VERSION, KIND, EndpointLoadTest


class DocumentError(Exception):
    """A test document that cannot be used; the message is meant for the user."""


# pydantic's bound errors, said the way the docs and the CRD say them: `must be >= 1`.
_BOUNDS = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}


def _field_path(loc: tuple[int | str, ...], root: str = "") -> str:
    path = root
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith(("function-after", "function-before")) or part in {"str", "int"}:
            continue  # pydantic's names for validator wrappers and union branches
        else:
            path += f".{part}" if path else part
    return path or "(document)"


def describe_validation_error(error: ValidationError, root: str = "") -> str:
    """One line per problem: `spec.load.users: must be >= 1 (got 0)`.

    `root` names where the validated object sits in the document (`spec` when the spec
    alone was validated), so the paths read as the user wrote them."""
    lines = []
    seen: set[str] = set()
    for item in error.errors():
        path = _field_path(item["loc"], root)
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] in _BOUNDS and "ctx" in item:
            op, key = _BOUNDS[item["type"]]
            message = f"must be {op} {item['ctx'][key]}"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        got = item.get("input")
        if item["type"] not in ("missing", "extra_forbidden", "value_error") and not isinstance(
            got, dict | list
        ):
            message += f" (got {got!r})"
        line = f"{path}: {message}"
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return "\n".join(lines)


def parse_document(data: Any, source: str = "document") -> EndpointLoadTest:
    """Validate already-parsed YAML/JSON data."""
    if not isinstance(data, dict):
        raise DocumentError(f"{source}: expected a mapping with apiVersion, kind and spec")
    if data.get("kind") != KIND or data.get("apiVersion") != API_VERSION:
        raise DocumentError(
            f"{source}: expected apiVersion {API_VERSION} and kind {KIND}, "
            f"got apiVersion {data.get('apiVersion')!r} and kind {data.get('kind')!r}"
        )
    try:
        return EndpointLoadTest.model_validate(data)
    except ValidationError as error:
        raise DocumentError(f"{source}:\n{describe_validation_error(error)}") from None


def load_document(path: str | Path) -> EndpointLoadTest:
    """Read and validate one EndpointLoadTest from a YAML file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise DocumentError(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise DocumentError(f"{path}: not valid YAML{where}: {problem}") from None
    tests = [d for d in documents if isinstance(d, dict) and d.get("kind") == KIND]
    if len(tests) != 1:
        if not tests and len(documents) == 1:
            return parse_document(documents[0], str(path))
        raise DocumentError(f"{path}: expected exactly one {KIND} document, found {len(tests)}")
    return parse_document(tests[0], str(path))


def load_for_command(path: str | Path) -> EndpointLoadTest | None:
    """The document for a command, or None once why it is invalid is on stderr."""
    try:
        return load_document(path)
    except DocumentError as error:
        print(f"invalid: {error}", file=sys.stderr)
        return None
