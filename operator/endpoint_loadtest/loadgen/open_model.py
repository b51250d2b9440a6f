"""Open-model load (load.targetTPS): a constant arrival rate, whatever the response times.

The master's conductor tells every worker its share of the rate (the target divided by
the number of workers) with the phase message; see conductor.py. Each worker runs one
pacing greenlet:

- the intended start times are t0 + i/rate (perf_counter seconds; a rate change starts
  a new series at the next intended time, or now if that is later), computed, never
  accumulated, so the rate does not drift;
- at each intended time the pacer spawns one request greenlet, unless the worker's
  share of load.maxInFlight is already in flight: then that send is not made;
- a send made more than LATE_TOLERANCE_SECONDS after its intended time (the pacer fell
  behind: a busy CPU, a blocked loop) is still made, and counted as late;
- gevent's timers fire on whole milliseconds (libev's epoll backend rounds its timeout
  up), so a pacer that slept until each intended time would send every request about
  half a millisecond late on average. It wakes up to SEND_AHEAD_SECONDS early instead
  and sends what is due by then: a request is never late because of the timer, and
  one sent early is timed from its actual send (never from a future intended time).

Dropped and late sends of the measurement window are the *shortfall*; with the number
of intended sends they go to the master with the worker's final flush. Nothing is
skipped silently.

Each call is reported once, under the phase in which it was sent (phases.py), with
response_time measured from the *intended* start (or the actual send, if that was
earlier): time spent waiting in the generator is part of the latency (no coordinated
omission). The service time, from the actual send, goes into a second statistics entry
("<type> (service)") logged directly on the entry, so Locust's totals and the window's
request counts do not count it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import Event

from endpoint_loadtest.loadgen.call_report import attempt, report_call
from endpoint_loadtest.loadgen.phases import (
    DONE,
    MEASURE,
    TRACKER,
    PhaseTracker,
    request_type,
    service_type,
)

if TYPE_CHECKING:  # importing locust monkey-patches the process; the pacer needs only gevent
    from locust.env import Environment

log = logging.getLogger("elt.open_model")

LATE_TOLERANCE_SECONDS = 0.1
# How early a send may be made: the resolution of gevent's (libev's) timers.
SEND_AHEAD_SECONDS = 0.001
# How long the pacer sleeps at most between checks (a rate change or `done` is seen
# within this even at a very low rate).
MAX_SLEEP_SECONDS = 0.25


class ArrivalClock:
    """Intended start times t0 + i/rate."""

    def __init__(self, rate: float, start: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.t0 = start
        self.i = 0

    @property
    def next_time(self) -> float:
        return self.t0 + self.i / self.rate

    def due(self, now: float) -> list[float]:
        """The intended times not later than now, in order; they are consumed."""
        times: list[float] = []
        while (t := self.next_time) <= now:
            times.append(t)
            self.i += 1
        return times

    def set_rate(self, rate: float, now: float) -> None:
        """Continue at a new rate from the next intended time (or now if that is later)."""
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.t0 = min(self.next_time, now)
        self.i = 0
        self.rate = rate


@dataclass
class Shortfall:
    """Intended sends of the measurement window, and those not made on time."""

    intended: int = 0
    late: int = 0  # sent, but more than LATE_TOLERANCE_SECONDS after the intended time
    dropped: int = 0  # not sent: the in-flight cap was reached

    @property
    def total(self) -> int:
        return self.late + self.dropped

    def as_message(self) -> dict[str, int]:
        return {"intended": self.intended, "late": self.late, "dropped": self.dropped}


def worker_cap(max_in_flight: int, workers: int) -> int:
    """A worker's share of the test's in-flight cap (at least 1)."""
    return max(1, math.ceil(max_in_flight / max(1, workers)))


class Pacer:
    """One worker's arrival-rate loop; `send(intended, phase)` makes one request."""

    def __init__(
        self,
        send: Callable[[float, str], None],
        cap: int,
        tracker: PhaseTracker = TRACKER,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.send = send
        self.cap = cap
        self.tracker = tracker
        self.clock = clock
        self.arrivals: ArrivalClock | None = None
        self.shortfall = Shortfall()
        self.in_flight = 0
        self.paused = False
        self._woken = Event()
        self.greenlet: gevent.Greenlet | None = None

    def pause(self) -> None:
        """Send nothing until the next set_rate (a capacity search between its steps)."""
        self.paused = True
        self._woken.set()

    def set_rate(self, rate: float) -> None:
        now = self.clock()
        if self.arrivals is None or self.paused:  # a pause owes no sends: start afresh
            self.arrivals = ArrivalClock(rate, now)
            self.paused = False
        else:
            self.arrivals.set_rate(rate, now)
        self._woken.set()
        if self.greenlet is None:
            self.greenlet = gevent.spawn(self.run)

    def slot(self, intended: float, now: float) -> bool:
        """Handle one intended send at `now`: make it, or count it. True when sent."""
        phase = self.tracker.phase
        if phase == DONE:
            return False
        measured = phase == MEASURE
        if measured:
            self.shortfall.intended += 1
        if self.in_flight >= self.cap:
            if measured:
                self.shortfall.dropped += 1
            return False
        if measured and now - intended > LATE_TOLERANCE_SECONDS:
            self.shortfall.late += 1
        started = self.tracker.begin()
        assert started is not None
        self.in_flight += 1
        gevent.spawn(self._run_one, intended, started)
        return True

    def _run_one(self, intended: float, phase: str) -> None:
        try:
            self.send(intended, phase)
        except Exception:  # a send must report its own failures; never kill the pacer
            log.exception("open-model send failed")
        finally:
            self.in_flight -= 1
            self.tracker.end(phase)

    def run(self) -> None:
        while self.tracker.phase != DONE:
            assert self.arrivals is not None
            if self.paused:
                self._woken.clear()
                self._woken.wait(timeout=MAX_SLEEP_SECONDS)
                continue
            now = self.clock()
            for intended in self.arrivals.due(now + SEND_AHEAD_SECONDS):
                self.slot(intended, now)
            wait = min(
                self.arrivals.next_time - SEND_AHEAD_SECONDS - self.clock(), MAX_SLEEP_SECONDS
            )
            self._woken.clear()
            if wait > 0:
                self._woken.wait(timeout=wait)
            else:
                gevent.sleep(0)  # let the request greenlets run


class RequestSender:
    """Sends one request with an endpoint user's client and reports it (see the module)."""

    def __init__(self, environment: Environment, user: Any) -> None:
        self.environment = environment
        self.user = user
        self.base = user.base_request_type

    def __call__(self, intended: float, phase: str) -> None:
        body = self.user.config.payload.next()
        sent = time.perf_counter()
        length, failure = attempt(self.user, body.data)
        ended = time.perf_counter()
        start = min(intended, sent)  # late: from the intended start; early: from the send
        latency_ms, service_ms = (ended - start) * 1000.0, (ended - sent) * 1000.0
        start_time = time.time() - (ended - start)
        report_call(
            self.environment,
            self.user,
            phase,
            body.name,
            length,
            failure,
            latency_ms,
            start_time,
            service_ms,
        )
        # Directly on the entry: not in Locust's totals, not an extra request.
        self.environment.stats.get(body.name, request_type(service_type(self.base), phase)).log(
            service_ms, length
        )


PACER: Pacer | None = None


def on_rate(environment: Environment, rate: float, cap: int) -> None:
    """Worker side: start pacing at `rate` requests per second, or change the rate."""
    global PACER
    if PACER is None:
        user_class = environment.user_classes[0]
        PACER = Pacer(RequestSender(environment, user_class(environment)), cap)
        log.info("open model: %.3f requests/s, at most %d in flight", rate, cap)
    PACER.set_rate(rate)


def flush_figures() -> dict[str, int] | None:
    """What the final flush reports: the window's intended sends and shortfall."""
    return PACER.shortfall.as_message() if PACER is not None else None


def window_totals(figures: Iterable[dict[str, int]]) -> dict[str, int]:
    """The master's sum of the workers' flushed figures (flush_figures), as result keys."""
    figures = list(figures)
    late = sum(f.get("late", 0) for f in figures)
    dropped = sum(f.get("dropped", 0) for f in figures)
    return {
        "intendedRequests": sum(f.get("intended", 0) for f in figures),
        "lateSends": late,
        "droppedSends": dropped,
        "shortfall": late + dropped,
    }
