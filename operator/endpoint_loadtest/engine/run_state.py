"""The lifecycle's memory: `RunState`, what it knows of the master, and why a run ended.

A state is frozen and serialisable: in a cluster it lives in status.lifecycle (camelCase
on the wire, `to_wire`/`from_wire`), so a restarted operator resumes where the last one
stopped. `Reason` is the vocabulary of status.reason, shared by both runtimes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from endpoint_loadtest.api.models import Phase
from endpoint_loadtest.engine.deadlines import Deadlines

FINISHED = (Phase.COMPLETED.value, Phase.ERROR.value)


class Reason(StrEnum):
    """Why a run ended (status.reason, the condition's reason, the event's reason)."""

    PASSED = "Passed"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    WORKER_LOST = "WorkerLost"
    INVALID_SPEC = "InvalidSpec"
    REFUSED = "Refused"  # the API server refused a child (4xx)
    START_TIMEOUT = "StartTimeout"
    MASTER_SILENT = "MasterSilent"
    MASTER_RESTARTED = "MasterRestarted"
    MASTER_GONE = "MasterGone"
    LOAD_GENERATOR_ERROR = "LoadGeneratorError"
    EVALUATION_TIMEOUT = "EvaluationTimeout"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    INTERRUPTED = "Interrupted"
    INTERNAL_ERROR = "InternalError"  # the runtime itself failed on this run
    RESULT_UNVERIFIED = "ResultUnverified"  # the result is not signed by the run's token


@dataclass(frozen=True)
class MasterIdentity:
    """What says "the same master": its pod (or process), restarts, and conductor."""

    uid: str
    restarts: int = 0
    conductor_id: str | None = None


@dataclass(frozen=True)
class Measured:
    """The master's figures so far, kept to say what was measured before a failure."""

    requests: int = 0
    failures: int = 0
    elapsed_seconds: float = 0.0
    stage: str = ""

    @classmethod
    def from_poll(cls, conductor: dict[str, Any], stats: dict[str, Any]) -> Measured:
        """From one poll: the conductor's /elt/status and Locust's /stats/requests."""
        aggregated = next(
            (e for e in stats.get("stats") or [] if e.get("name") == "Aggregated"), {}
        )
        return cls(
            requests=int(aggregated.get("num_requests") or 0),
            failures=int(aggregated.get("num_failures") or 0),
            elapsed_seconds=round(float(conductor.get("elapsedSeconds") or 0.0), 1),
            stage=str(conductor.get("state") or ""),
        )

    def describe(self) -> str:
        if not self.requests and not self.elapsed_seconds:
            return "nothing had been measured yet"
        return (
            f"{self.requests} requests ({self.failures} failed) in "
            f"{self.elapsed_seconds:.0f}s ({self.stage or 'running'}) were measured before"
        )


@dataclass(frozen=True)
class RunState:
    """The lifecycle's whole memory; serialisable (status.lifecycle in a cluster)."""

    phase: str
    run_id: str
    started_at: float  # when the run was created (epoch seconds)
    phase_since: float
    deadlines: Deadlines
    cloudwatch: bool = False  # the verdict waits for CloudWatch's last period
    last_answer_at: float | None = None
    master: MasterIdentity | None = None
    measured: Measured | None = None
    attempts: int = 0  # transient failures in a row (backoff)
    next_attempt_at: float | None = None
    window: tuple[float, float] | None = None  # the measurement window, epoch seconds
    result: dict[str, Any] | None = field(default=None, compare=False)
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED

    def to_wire(self) -> dict[str, Any]:
        """The part kept in status.lifecycle (the result stays with the master).

        Unset fields are null, not left out: in a merge patch null removes what the
        previous run left there (its master, its window)."""
        data = asdict(self)
        data.pop("result")
        data.pop("phase")
        data.pop("message")
        return _camel(data)

    @classmethod
    def from_wire(cls, phase: str, data: dict[str, Any], fallback: Deadlines) -> RunState:
        data = _snake(data)
        master = data.get("master")
        measured = data.get("measured")
        window = data.get("window")
        return cls(
            phase=phase,
            run_id=str(data.get("run_id") or ""),
            cloudwatch=bool(data.get("cloudwatch")),
            started_at=float(data.get("started_at") or 0.0),
            phase_since=float(data.get("phase_since") or data.get("started_at") or 0.0),
            deadlines=Deadlines(**data["deadlines"]) if data.get("deadlines") else fallback,
            last_answer_at=data.get("last_answer_at"),
            master=MasterIdentity(**master) if master else None,
            measured=Measured(**measured) if measured else None,
            attempts=int(data.get("attempts") or 0),
            next_attempt_at=data.get("next_attempt_at"),
            window=tuple(window) if window else None,  # type: ignore[arg-type]
        )


def new_run(run_id: str, deadlines: Deadlines, now: float, *, cloudwatch: bool) -> RunState:
    return RunState(
        phase=Phase.PENDING.value,
        run_id=run_id,
        cloudwatch=cloudwatch,
        started_at=now,
        phase_since=now,
        deadlines=deadlines,
        message="creating the load generator",
    )


# ------------------------------------------------------------------ wire names


def _camel(data: Any) -> Any:
    if isinstance(data, dict):
        return {_to_camel(k): _camel(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_camel(v) for v in data]
    return data


def _snake(data: Any) -> Any:
    if isinstance(data, dict):
        return {_to_snake(k): _snake(v) for k, v in data.items()}
    return data


def _to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _to_snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
