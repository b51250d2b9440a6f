"""The request headers of an HTTP target, with the values of headersFrom read here.

The plan names, for each header from a Secret, the variable the kubelet filled in
this container (api/headers.py); nothing else in the system holds the value. It is
read once at start, never logged, and is one of the request's values an error sample
must not echo (errors.ErrorSamples).
"""

from __future__ import annotations

import os
from typing import Any

_UNSAFE = ("\r", "\n", "\x00")


class HeaderSecretError(RuntimeError):
    """A header's variable is missing or unusable; the message never holds the value."""


def _secret_value(index: int, entry: dict[str, Any]) -> str:
    value = os.environ.get(entry["env"])
    where = f"target.http.headersFrom[{index}] ({entry['name']})"
    if value is None:
        raise HeaderSecretError(f"{where}: variable {entry['env']} is not set in this pod")
    value = value.strip()  # a Secret made from a file often ends with a newline
    if not value or any(c in value for c in _UNSAFE):
        raise HeaderSecretError(
            f"{where}: the Secret's value is empty or holds a line break or NUL"
        )
    return value


def secret_values(target: dict[str, Any]) -> list[str]:
    """The values of target.headersFrom as the Secrets hold them (without prefixes)."""
    return [_secret_value(i, e) for i, e in enumerate(target.get("headersFrom") or [])]


def secret_header_values(target: dict[str, Any]) -> dict[str, str]:
    """Header name -> prefix + value, for target.headersFrom."""
    entries = target.get("headersFrom") or []
    return {
        e["name"]: f"{e.get('prefix') or ''}{value}"
        for e, value in zip(entries, secret_values(target), strict=True)
    }


def request_headers(target: dict[str, Any]) -> dict[str, str]:
    """Every header the HTTP user sends, Content-Type first (the target may override it)."""
    return {
        "Content-Type": "application/json",
        **(target.get("headers") or {}),
        **secret_header_values(target),
    }
