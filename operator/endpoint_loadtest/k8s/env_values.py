"""Operator settings read from the environment: one parser per kind of value, shared by
the settings modules (which cannot import each other: settings.py imports the others)."""

from __future__ import annotations

import json
import os
from typing import Any


def json_object_env(name: str) -> dict[str, Any]:
    """The JSON object in variable `name` ({} when unset); a bad value stops the operator
    at start with a message naming the variable."""
    value = os.environ.get(name)
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        raise SystemExit(f"{name} must be a JSON object, got {value!r}") from None
    if not isinstance(parsed, dict):
        raise SystemExit(f"{name} must be a JSON object, got {value!r}")
    return parsed
