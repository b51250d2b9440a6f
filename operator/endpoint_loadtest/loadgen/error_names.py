"""Bounded error names and messages: what an endpoint answers must not grow our memory,
our metrics' label sets or the status, nor carry the request back into them.

An endpoint chooses its error codes (SageMaker's `x-amzn-ErrorType`, an HTTP server's
body) and its messages. Names are cut to a safe alphabet and length; a process admits
a bounded number of distinct names (later ones become `other`); reports keep the top
ones by count and sum the rest as `other`. Messages are kept as one sample per error
type: one line, bounded, with the request's own bodies and header values, AWS key ids
and long tokens replaced.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TypeVar

OTHER = "other"
NAME_MAX_CHARS = 64
# Distinct error names one load-generator process reports to Locust.
MAX_NAMES_PER_PROCESS = 20
# Error types kept in status.results, the metrics' labels and the verdict.
TOP_ERRORS = 10
SAMPLE_MAX_CHARS = 200
TOP_IN_VERDICT = 3
VERDICT_SAMPLE_CHARS = 120

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{12,}\b")
# A secret key, session token or signature: a long base64/hex run with digits in it (a
# path such as /aws/sagemaker/Endpoints/name has none and stays).
_LONG_TOKEN = re.compile(r"(?=[A-Za-z+/=]*[0-9])[A-Za-z0-9+/=]{40,}")
_MIN_ECHO_CHARS = 8  # shorter request values are too common to redact


def sanitize_type(code: object) -> str:
    """An error code as a name: letters, digits, '_' and '.', at most 64 characters."""
    name = _NAME_CHARS.sub("", str(code))[:NAME_MAX_CHARS]
    return name or "UnknownError"


_FAILURE_NAME = re.compile(r"^(?P<type>.*?)(?: \(HTTP (?P<status>\d{3})\))?$", re.DOTALL)


def sanitize_name(name: object) -> str:
    """A failure name (`Type` or `Type (HTTP 400)`) with its type sanitised."""
    match = _FAILURE_NAME.match(str(name).strip())
    assert match is not None  # the pattern matches any string
    kind = sanitize_type(match.group("type"))
    return f"{kind} (HTTP {match.group('status')})" if match.group("status") else kind


class NameLimiter:
    """Admits the first MAX_NAMES_PER_PROCESS distinct names; later ones are `other`."""

    def __init__(self, limit: int = MAX_NAMES_PER_PROCESS) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def admit(self, name: str) -> str:
        if name in self.seen:
            return name
        if len(self.seen) >= self.limit:
            return OTHER
        self.seen.add(name)
        return name


LIMITER = NameLimiter()


Count = TypeVar("Count", int, float)


def top_counts(counts: Mapping[str, Count], keep: int = TOP_ERRORS) -> dict[str, Count]:
    """At most `keep` entries: the largest counts, the rest summed under `other`."""
    if len(counts) <= keep:
        return dict(counts)
    named = [item for item in counts.items() if item[0] != OTHER]
    ranked = sorted(named, key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[: keep - 1])
    rest = [count for name, count in counts.items() if name not in kept]
    return {**kept, OTHER: sum(rest[1:], rest[0])}


def sanitize_detail(text: object, echoes: Iterable[str] = ()) -> str:
    """An error message fit for the status: one line, bounded, nothing of the request."""
    line = " ".join(_CONTROL.sub(" ", str(text)).split())
    for echo in sorted({e.strip() for e in echoes}, key=len, reverse=True):
        if len(echo) >= _MIN_ECHO_CHARS:
            line = line.replace(echo, "[request]")
    line = _AWS_KEY_ID.sub("[key]", line)
    line = _LONG_TOKEN.sub("[redacted]", line)
    if len(line) > SAMPLE_MAX_CHARS:
        line = line[: SAMPLE_MAX_CHARS - 3].rstrip() + "..."
    return line


def top_errors_text(
    counts: Mapping[str, int], samples: Mapping[str, str], top: int = TOP_IN_VERDICT
) -> str:
    """The most frequent error types with their sample, for the verdict's message:
    `ValidationError x120 ("Endpoint foo of account 1 not found.")`."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    parts = []
    for name, count in ranked:
        sample = samples.get(name)
        if sample and len(sample) > VERDICT_SAMPLE_CHARS:  # an event holds 1024 characters
            sample = sample[: VERDICT_SAMPLE_CHARS - 3].rstrip() + "..."
        parts.append(f'{name} x{count} ("{sample}")' if sample else f"{name} x{count}")
    return ", ".join(parts)
