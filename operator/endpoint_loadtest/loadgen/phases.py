"""Which part of the run a request belongs to, decided when the request starts.

The master's conductor announces the phases (warmup, measure, done) to every
worker. A request is counted in the phase in which it *started*, under a request
type that carries the phase, so the measurement window's statistics are exact:
nothing from ramp-up or warmup leaks in, and nothing is cut off at the end.
In phase `done` users send nothing more, so once a worker's in-flight requests
finish, everything it will ever send has been reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WARMUP = "warmup"
MEASURE = "measure"
DONE = "done"
PHASES = (WARMUP, MEASURE, DONE)

PHASE_MESSAGE = "elt_phase"
FLUSHED_MESSAGE = "elt_flushed"


def request_type(base: str, phase: str) -> str:
    """The Locust request type for a phase: the measured one keeps the plain name."""
    return base if phase == MEASURE else f"{base} ({phase})"


def service_type(base: str) -> str:
    """Open model: the entry of service times (from the actual send), beside `base`'s
    times from the intended start."""
    return f"{base} (service)"


@dataclass
class PhaseTracker:
    """Per-process phase state and in-flight counts; gevent makes it race-free."""

    phase: str = WARMUP
    in_flight: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PHASES, 0))

    def set(self, phase: str) -> None:
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}")
        self.phase = phase

    def begin(self) -> str | None:
        """Start a request: its phase, or None when no more requests may start."""
        if self.phase == DONE:
            return None
        self.in_flight[self.phase] += 1
        return self.phase

    def end(self, phase: str) -> None:
        self.in_flight[phase] -= 1

    @property
    def busy(self) -> int:
        return sum(self.in_flight.values())


TRACKER = PhaseTracker()
