"""The capacity search's rule: which rate to offer next, and when to stop.

Pure: the judged steps so far in, the next rate (or the end, and why) out. The Locust
master's conductor asks it after each step's window (loadgen/search_schedule.py), and
the runtime's engine asks it again over the final figures (engine/capacity.py), so
both read the same steps the same way.

Growth: each step doubles the last passing rate (capped at maxTPS) until a step fails.
Bisection: the midpoint of the last passing and the first failing rate, until the
failing one is within `precision` above the passing one. A step the load generator
could not drive (its CPU, its shortfall, too few requests) ends the search at once:
nothing above it would be the endpoint's figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

GROWTH = 2.0
RATE_DIGITS = 4  # significant digits of a step's rate


class Stop(StrEnum):
    """Why the search ended."""

    BRACKETED = "bracketed"  # the knee is between two steps within precision: Passed
    FAILED_AT_START = "failedAtStart"  # startTPS already broke the SLO: Failed
    AT_LEAST = "atLeast"  # maxTPS met the SLO: Inconclusive, "at least"
    GENERATOR = "generator"  # the load generator was the limit: Inconclusive
    MAX_STEPS = "maxSteps"  # steps ran out before the precision: Inconclusive
    INTERRUPTED = "interrupted"  # stopped from outside: Inconclusive


@dataclass(frozen=True)
class Settings:
    start_tps: float
    max_tps: float
    precision: float
    max_steps: int


@dataclass(frozen=True)
class Outcome:
    """One judged step: its rate, whether it met the SLO, whether it proves anything."""

    offered_tps: float
    passed: bool
    conclusive: bool = True  # False: the generator (or too few requests) limited the step


@dataclass(frozen=True)
class Next:
    """The next rate to offer, or why the search ends (exactly one is set)."""

    offered_tps: float | None = None
    stop: Stop | None = None


def bracket(outcomes: list[Outcome]) -> tuple[float | None, float | None]:
    """(highest passing rate below the lowest failing one, lowest failing rate)."""
    bad = min((o.offered_tps for o in outcomes if o.conclusive and not o.passed), default=None)
    good = max(
        (
            o.offered_tps
            for o in outcomes
            if o.conclusive and o.passed and (bad is None or o.offered_tps < bad)
        ),
        default=None,
    )
    return good, bad


def bracketed(good: float | None, bad: float | None, precision: float) -> bool:
    return good is not None and bad is not None and (bad - good) <= precision * good


def next_step(settings: Settings, outcomes: list[Outcome]) -> Next:
    """What to do after `outcomes` (in the order run)."""
    if not outcomes:
        return Next(offered_tps=_rate(settings.start_tps))
    if not outcomes[-1].conclusive:
        return Next(stop=Stop.GENERATOR)
    good, bad = bracket(outcomes)
    if good is None:
        return Next(stop=Stop.FAILED_AT_START)
    if bad is None:
        if good >= settings.max_tps:
            return Next(stop=Stop.AT_LEAST)
        rate = min(good * GROWTH, settings.max_tps)
    elif bracketed(good, bad, settings.precision):
        return Next(stop=Stop.BRACKETED)
    else:
        rate = (good + bad) / 2
    if len(outcomes) >= settings.max_steps:
        return Next(stop=Stop.MAX_STEPS)
    rate = _rate(rate)
    if rate in (good, bad):  # the rates cannot be told apart any finer
        return Next(stop=Stop.BRACKETED)
    return Next(offered_tps=rate)


def _rate(rate: float) -> float:
    return float(f"{rate:.{RATE_DIGITS}g}")
