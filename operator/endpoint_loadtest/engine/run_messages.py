"""What a runtime and the lifecycle tell each other: needs and observations in,
decisions and their actions out.

A runtime asks `needs` what to look at (`Need`), reports what it saw as an
`Observation` (a `Refusal` when it could not), and carries out the `Decision`'s
actions: emit an `Event`, ask the conductor to `StopLoad`, `Finish` the run. Plain
data, so either runtime observes its own way (processes or pods); the fields both
read alike from a step of the final CloudWatch scrape are built once (`cloudwatch_step`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from endpoint_loadtest.engine.run_state import MasterIdentity, Measured, Reason, RunState


class Need(StrEnum):
    """What the runtime should observe before the next `advance`."""

    CREATE = "create"  # create the children (idempotent)
    MASTER = "master"  # the master's identity and one poll of the conductor
    RESULT = "result"  # the window's result
    CLOUDWATCH = "cloudwatch"  # one step of the final CloudWatch scrape


# ------------------------------------------------------------------ observations


@dataclass(frozen=True)
class Refusal:
    """The runtime could not do what was asked; `permanent`: retrying cannot help."""

    message: str
    permanent: bool
    reason: Reason = Reason.REFUSED  # the run's reason when it ends on this refusal


def result_unverified(why: str) -> Refusal:
    """A result that fails verification ends the run in Error: it is never judged."""
    return Refusal(
        f"the master's result was not judged: {why}", permanent=True,
        reason=Reason.RESULT_UNVERIFIED,
    )  # fmt: skip


@dataclass(frozen=True)
class Observation:
    """What the runtime saw this tick; a field left None was not observed."""

    created: bool | None = None  # Need.CREATE done
    refusal: Refusal | None = None  # creating or observing failed
    master: MasterIdentity | None = None  # the current master (pod or process), if any
    master_gone: str | None = None  # the master is gone, and why (pod deleted, exit code)
    conductor: dict[str, Any] | None = None  # /elt/status, when the master answered
    measured: Measured | None = None  # the figures of that poll (Measured.from_poll)
    unanswered: str | None = None  # why the master did not answer
    result: dict[str, Any] | None = None  # /elt/result, once there
    cloudwatch_done: bool | None = None  # the final scrape's decision
    cloudwatch_retry_after: float = 0.0
    cloudwatch_message: str = ""
    interrupted: bool = False  # Ctrl-C, SIGTERM
    pods: str = ""  # the pods in words, for messages


def cloudwatch_step(done: bool, retry_after: float, message: str) -> dict[str, Any]:
    """The observation's fields for one step of the final CloudWatch scrape."""
    return {
        "cloudwatch_done": done,
        "cloudwatch_retry_after": retry_after,
        "cloudwatch_message": message,
    }


# ------------------------------------------------------------------ actions


@dataclass(frozen=True)
class Event:
    kind: str  # Normal, Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Finish:
    """The run ends: with a verdict on `result` (judge it), or in Error."""

    reason: Reason
    message: str
    error: bool
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class StopLoad:
    """Ask the conductor to close the window now (interrupted)."""


Action = Event | Finish | StopLoad


@dataclass(frozen=True)
class Decision:
    state: RunState
    actions: list[Action]

    @property
    def finish(self) -> Finish | None:
        return next((a for a in self.actions if isinstance(a, Finish)), None)
