"""CloudWatch period arithmetic and the end-of-test wait, as pure functions of times.

CloudWatch publishes one-minute data with a delay, so the window's last period may be
missing when the test ends. `final_wait` decides, from the clock alone, whether to wait
for it (up to `cloudwatch.lastPeriodTimeout`); the helpers say which periods a window
covers and which periods GetMetricData accepts. Nothing here calls AWS, so the
decisions are tested without a clock or a client.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

# Periods GetMetricData accepts: 1, 5, 10, 30 (high resolution) or a multiple of 60.
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)


def align_down(at: float, period: int) -> float:
    return math.floor(at / period) * period


def summary_period(span: float, period: int) -> int:
    """The smallest period GetMetricData accepts that is >= span and a multiple of period."""
    steps = max(1, math.ceil(round(span, 6) / period))
    candidate = steps * period
    while True:
        if candidate in HIGH_RESOLUTION_PERIODS or candidate % 60 == 0:
            return candidate
        candidate += period


def last_period_start(end: float, period: int) -> float:
    """Start of the period holding the window's last instant."""
    return align_down(max(end - 1e-6, 0.0), period)


def last_period_due(end: float, period: int) -> float:
    """When the window's last period closes; CloudWatch cannot have it before."""
    return last_period_start(end, period) + period


@dataclass(frozen=True)
class FinalWait:
    """Whether to judge now, or to wait `retry_after` seconds for the last period."""

    done: bool
    retry_after: float
    message: str


def final_wait(end: float, period: int, timeout: float, now: float, complete: bool) -> FinalWait:
    """The end-of-test decision, a pure function of times.

    `complete` says whether the last scrape already holds the window's last period.
    Before that period closes: wait for it. After: poll every quarter period (1-15 s)
    until it appears or `timeout` seconds after it closed.
    """
    due = last_period_due(end, period)
    deadline = due + timeout
    stamp = utc_stamp(last_period_start(end, period))
    if complete:
        return FinalWait(True, 0.0, f"CloudWatch has published the window's last period ({stamp})")
    if now >= deadline:
        return FinalWait(
            True,
            0.0,
            f"CloudWatch had not published the period starting {stamp} "
            f"{timeout:.0f}s after it ended; the figures leave it out",
        )
    poll = min(max(period / 4.0, 1.0), 15.0)
    retry = due - now if now < due else min(poll, deadline - now)
    return FinalWait(
        False,
        max(retry, 0.0),
        f"waiting up to {max(deadline - now, 0):.0f}s for CloudWatch to publish the "
        f"window's last period ({stamp})",
    )


def utc_stamp(at: float) -> str:
    """Epoch seconds as the ISO 8601 UTC stamp the conditions and messages show."""
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
