"""Awaited conditions for tests: poll with a timeout and say what was last seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Timeout(AssertionError):
    """The condition did not hold in time; the message has the last observation."""


def wait_until(
    probe: Callable[[], T | None],
    timeout: float = 60,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Call `probe` until it returns something truthy, and return that.

    Exceptions from `probe` count as "not yet" and the last one is reported on
    timeout, so probes can simply index into objects that may not exist yet.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = probe()
            if result:
                return result
            last = result
        except Exception as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise Timeout(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)
