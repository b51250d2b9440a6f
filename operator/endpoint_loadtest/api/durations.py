"""Durations as people write them in test documents: 90, "90s", "5m", "1h30m"."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

DURATION_PATTERN = r"^([0-9]+h)?([0-9]+m)?([0-9]+(\.[0-9]+)?s)?$"
_DURATION_RE = re.compile(DURATION_PATTERN)


def parse_duration(value: str | int | float) -> float:
    """Seconds in a duration; a bare number is seconds."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION_RE.fullmatch(value.strip())
    if not value.strip() or match is None:
        raise ValueError(f"invalid duration {value!r}: use seconds or a form like 90s, 5m, 1h30m")
    hours, minutes, seconds, _ = match.groups()
    return (
        int(hours[:-1] if hours else 0) * 3600
        + int(minutes[:-1] if minutes else 0) * 60
        + float(seconds[:-1] if seconds else 0)
    )


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration for whole seconds, for messages."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return "".join(parts) or "0s"


def _normalise(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a duration must be a number of seconds or a string like 90s")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return f"{value}s"
    if isinstance(value, str):
        parse_duration(value)
    return value


Duration = Annotated[
    str,
    BeforeValidator(_normalise),
    Field(json_schema_extra={"x-kubernetes-int-or-string": True, "pattern": DURATION_PATTERN}),
]
