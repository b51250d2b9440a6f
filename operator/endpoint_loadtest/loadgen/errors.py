"""Name every failed call the same way everywhere: `ModelError (HTTP 424)`, `Timeout`.

The name is what Locust groups errors by, so the reports, status.results.errorsByType
and the verdict all show the SageMaker error code and the HTTP status class. Names are
sanitised and bounded per process (error_names.py). The endpoint's message travels
beside the name (RequestFailure.detail), never in it, and one sample per name of the
measured phase is kept (SAMPLES) and sent with the worker's final flush.
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

from endpoint_loadtest.loadgen.error_names import LIMITER, sanitize_detail, sanitize_type
from endpoint_loadtest.loadgen.phases import MEASURE

CONNECTION_ERROR = "ConnectionError"
TIMEOUT = "Timeout"

_NAME_RE = re.compile(r"^(?P<type>[A-Za-z0-9_.]+)(?: \(HTTP (?P<status>\d{3})\))?$")


class RequestFailure(Exception):
    """A failed call, named for grouping; repr is the name so Locust keys on it."""

    def __init__(self, name: str, detail: str | None = None) -> None:
        super().__init__(name)
        self.name = name
        self.detail = detail  # the endpoint's message, raw (sanitised when sampled)

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


def failure_name(error_type: str, status: int | None = None) -> str:
    """`Type (HTTP status)`, the type sanitised and admitted by this process's limiter."""
    name = LIMITER.admit(sanitize_type(error_type))
    return f"{name} (HTTP {status})" if status else name


def classify_boto_error(error: BaseException) -> RequestFailure:
    """A boto3/botocore exception as `Code (HTTP status)`, connection error or timeout."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code") or "UnknownError"
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = error.response.get("Error", {}).get("Message")
        return RequestFailure(failure_name(code, status), message)
    if isinstance(error, ReadTimeoutError | ConnectTimeoutError | socket.timeout | TimeoutError):
        return RequestFailure(TIMEOUT, timeout_detail())
    if isinstance(error, EndpointConnectionError | ConnectionClosedError | ConnectionError):
        return RequestFailure(CONNECTION_ERROR, str(error))
    return RequestFailure(failure_name(type(error).__name__), str(error))


def classify_http_status(status: int, body: bytes = b"") -> RequestFailure:
    return RequestFailure(failure_name("HTTPError", status), body_detail(body))


def timeout_detail() -> str:
    return "no response within load.requestTimeout"


def body_detail(body: bytes) -> str | None:
    """The message of an error response body: JSON `message`/`Message`, else the text."""
    import json

    text = body.decode("utf-8", errors="replace") if body else ""
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for key in ("message", "Message", "error", "detail"):
            if isinstance(parsed.get(key), str) and parsed[key]:
                return parsed[key]
    return text or None


class ErrorSamples:
    """One sanitised message per failure name of the measured phase (this process)."""

    def __init__(self) -> None:
        self.samples: dict[str, str] = {}
        self.echoes: list[str] = []  # the request's own values, never to be reported

    def forbid(self, values: list[str]) -> None:
        self.echoes = [v for v in values if v]

    def record(self, phase: str, failure: RequestFailure) -> None:
        if phase != MEASURE or failure.name in self.samples or not failure.detail:
            return
        self.samples[failure.name] = sanitize_detail(failure.detail, self.echoes)

    def to_message(self) -> dict[str, str]:
        return dict(self.samples)


SAMPLES = ErrorSamples()


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
