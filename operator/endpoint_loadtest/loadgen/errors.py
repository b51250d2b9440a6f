"""Name every failed call the same way everywhere: `ModelError (HTTP 424)`, `Timeout`.

The name is what Locust groups errors by, so the reports, status.results.errorsByType
and the verdict all show the SageMaker error code and the HTTP status class.
"""

from __future__ import annotations

import re
import socket

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

CONNECTION_ERROR = "ConnectionError"
TIMEOUT = "Timeout"

_NAME_RE = re.compile(r"^(?P<type>[A-Za-z0-9_.]+)(?: \(HTTP (?P<status>\d{3})\))?$")


class RequestFailure(Exception):
    """A failed call, named for grouping; repr is the name so Locust keys on it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


def failure_name(error_type: str, status: int | None = None) -> str:
    return f"{error_type} (HTTP {status})" if status else error_type


def classify_boto_error(error: BaseException) -> RequestFailure:
    """A boto3/botocore exception as `Code (HTTP status)`, connection error or timeout."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code") or "UnknownError"
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return RequestFailure(failure_name(code, status))
    if isinstance(error, ReadTimeoutError | ConnectTimeoutError | socket.timeout | TimeoutError):
        return RequestFailure(TIMEOUT)
    if isinstance(error, EndpointConnectionError | ConnectionClosedError | ConnectionError):
        return RequestFailure(CONNECTION_ERROR)
    return RequestFailure(type(error).__name__)


def classify_http_status(status: int) -> RequestFailure:
    return RequestFailure(failure_name("HTTPError", status))


def parse_failure_name(name: str) -> tuple[str, str | None]:
    """(type, status) from a failure name; status None for connection errors and timeouts."""
    match = _NAME_RE.match(name.strip())
    if match is None:
        return name, None
    return match.group("type"), match.group("status")


def status_class(status: str | None) -> str:
    """'4xx', '5xx' or 'none' (no HTTP response: connection error, timeout)."""
    if status is None:
        return "none"
    return f"{status[0]}xx"
