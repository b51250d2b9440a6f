"""The life of one run, as one pure function: `advance(state, observation, now)`.

Both runtimes (`elt run` and the operator) ask `needs(state, now)` what to look at,
observe it their own way (processes and a local port, or pods and an API server),
and hand the result to `advance`, which returns the next state and the actions to
carry out (events to emit, the end of the run). Every deadline is in one table,
`Deadlines`, derived from the spec by `deadlines_for`, so the two runtimes cannot
drift apart. Nothing here knows kopf, Kubernetes or processes.

Pending -> Starting -> Running -> Evaluating -> Completed, or Error from any phase.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from endpoint_loadtest.api.models import EndpointLoadTestSpec, Phase
from endpoint_loadtest.engine.plan import planned_seconds

FLUSH_MARGIN_SECONDS = 15.0  # the conductor's wait for the workers' last reports
MAX_BACKOFF_SECONDS = 30.0
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
class Deadlines:
    """Every bound of a run, in seconds. One table for both runtimes."""

    start: float = 180.0  # children created -> all workers connected (Pending, Starting)
    silence: float = 30.0  # the master not answering (Running, Evaluating)
    evaluating: float = 120.0  # load done -> the result (and CloudWatch's last period) judged
    overall: float = 0.0  # run created -> its end, whatever happens; 0: derived


def deadlines_for(
    spec: EndpointLoadTestSpec, *, start: float = 180.0, silence: float = 30.0
) -> Deadlines:
    """The table for one spec: start and silence from the runtime, the rest from the spec.

    Evaluating covers the workers' last reports and, with CloudWatch, the wait for the
    window's last period (period + lastPeriodTimeout) plus a scrape; the overall
    deadline is the planned time plus every other bound: no run outlives it. A capacity
    search plans every step (maxSteps x (stepWarmup + stepDuration)), each closing its
    window with a drain of its own, and reads CloudWatch once per step at the end.
    """
    drain = spec.load.request_timeout_seconds + FLUSH_MARGIN_SECONDS
    evaluating = drain + 60.0
    steps = spec.search.max_steps if spec.search is not None else 1
    if spec.cloudwatch.enabled and spec.target.sagemaker is not None:
        evaluating += float(spec.cloudwatch.period) + spec.cloudwatch.last_period_timeout_seconds
        evaluating += 10.0 * (steps - 1)  # one scrape of each further step's window
    overall = start + planned_seconds(spec) + steps * drain + evaluating + silence
    return Deadlines(start=start, silence=silence, evaluating=evaluating, overall=overall)


class Need(StrEnum):
    """What the runtime should observe before the next `advance`."""

    CREATE = "create"  # create the children (idempotent)
    MASTER = "master"  # the master's identity and one poll of the conductor
    RESULT = "result"  # the window's result
    CLOUDWATCH = "cloudwatch"  # one step of the final CloudWatch scrape


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


# ------------------------------------------------------------------ the function


def needs(state: RunState, now: float) -> set[Need]:
    """What to observe now (nothing while a backoff or a retry-after runs)."""
    if state.finished or (state.next_attempt_at is not None and now < state.next_attempt_at):
        return set()
    if state.phase == Phase.PENDING.value:
        return {Need.CREATE}
    if state.phase in (Phase.STARTING.value, Phase.RUNNING.value):
        return {Need.MASTER}
    if state.result is None:
        return {Need.MASTER, Need.RESULT}
    return {Need.CLOUDWATCH}


def advance(state: RunState, obs: Observation, now: float) -> Decision:
    """The next state and what to do, from the current state and one observation."""
    if state.finished:
        return Decision(state, [])
    if (
        obs.interrupted
        and state.phase in (Phase.PENDING.value, Phase.STARTING.value)
        and not _load_started(obs)  # the same observation may show the load under way
    ):
        return _end(state, now, Reason.INTERRUPTED, "interrupted before the load started")
    if ended := _deadline(state, now, obs):
        return ended
    if obs.refusal is not None:
        return _refused(state, obs.refusal, now)
    if state.phase == Phase.PENDING.value:
        return _pending(state, obs, now)
    if ended := _master_changed(state, obs, now):
        return ended
    if state.phase == Phase.EVALUATING.value:
        return _evaluating(state, obs, now)
    return _observing(state, obs, now)


def _load_started(obs: Observation) -> bool:
    return (obs.conductor or {}).get("state") not in (None, "waiting")


def _deadline(state: RunState, now: float, obs: Observation) -> Decision | None:
    table = state.deadlines
    in_phase = now - state.phase_since
    if table.overall and now - state.started_at > table.overall:
        return _end(
            state, now, Reason.DEADLINE_EXCEEDED,
            f"the run did not end within its deadline of {table.overall:.0f}s "
            f"(planned time plus margins), in phase {state.phase}; {_measured(state)}",
        )  # fmt: skip
    if state.phase in (Phase.PENDING.value, Phase.STARTING.value) and in_phase > table.start:
        detail = obs.pods or state.message
        return _end(
            state, now, Reason.START_TIMEOUT,
            f"the load generator did not start within {table.start:.0f}s: {detail}",
        )  # fmt: skip
    if state.phase == Phase.EVALUATING.value and in_phase > table.evaluating:
        if state.result is not None:  # judge what Locust measured, without CloudWatch
            return _judge(state, now, state.result, "CloudWatch did not answer in time")
        return _end(
            state, now, Reason.EVALUATION_TIMEOUT,
            f"the master did not deliver its result within {table.evaluating:.0f}s; "
            f"{_measured(state)}",
        )  # fmt: skip
    silent_since = state.last_answer_at or state.phase_since
    if (
        state.phase in (Phase.RUNNING.value, Phase.EVALUATING.value)
        and state.result is None
        and obs.unanswered is not None  # asked, and no answer
        and now - silent_since > table.silence
    ):
        return _end(
            state, now, Reason.MASTER_SILENT,
            f"the Locust master stopped answering for {table.silence:.0f}s "
            f"({obs.unanswered or 'no answer'}); {_measured(state)}",
        )  # fmt: skip
    return None


def _refused(state: RunState, refusal: Refusal, now: float) -> Decision:
    if refusal.permanent:
        return _end(state, now, refusal.reason, refusal.message)
    attempts = state.attempts + 1
    delay = min(MAX_BACKOFF_SECONDS, 2.0 ** (attempts - 1))
    message = f"retrying in {delay:.0f}s (attempt {attempts}): {refusal.message}"
    return Decision(
        replace(state, attempts=attempts, next_attempt_at=now + delay, message=message), []
    )


def _pending(state: RunState, obs: Observation, now: float) -> Decision:
    if not obs.created:
        return Decision(state, [])
    state = _enter(state, Phase.STARTING.value, now, "waiting for the master and its workers")
    return Decision(state, [Event("Normal", "Starting", "created the Locust master and workers")])


def _master_changed(state: RunState, obs: Observation, now: float) -> Decision | None:
    """A master that restarted or was replaced ends the run: never a silent second run."""
    known, seen = state.master, obs.master
    if known is None:
        return None
    why = None
    if obs.master_gone:
        why = obs.master_gone
    elif seen is not None and seen.uid != known.uid:
        why = f"the master was replaced ({known.uid} -> {seen.uid})"
    elif seen is not None and seen.restarts > known.restarts:
        why = f"the master container restarted ({seen.restarts} restart(s))"
    elif (
        (conductor_id := (obs.conductor or {}).get("conductorId") or (seen and seen.conductor_id))
        and known.conductor_id
        and conductor_id != known.conductor_id
    ):
        why = "the master's conductor restarted (its run started again from the beginning)"
    run = (obs.conductor or {}).get("runId")
    if why is None and run and state.run_id and run != state.run_id:
        why = f"the master answering runs {run}, not this run ({state.run_id})"
    if why is None:
        return None
    if state.phase == Phase.EVALUATING.value and state.result is not None:
        return None  # the result is in hand: the master is no longer needed
    return _end(state, now, Reason.MASTER_RESTARTED, f"{why}; {_measured(state)}")


def _remember(state: RunState, obs: Observation, now: float) -> RunState:
    """Record the master's identity (first sight) and its latest figures."""
    conductor = obs.conductor or {}
    seen = obs.master
    master = state.master
    if seen is not None:
        conductor_id = conductor.get("conductorId") or seen.conductor_id
        if master is None:
            master = replace(seen, conductor_id=conductor_id)
        elif master.conductor_id is None and conductor_id:
            master = replace(master, conductor_id=conductor_id)
    measured = obs.measured or state.measured
    start, end = conductor.get("windowStart"), conductor.get("windowEnd")
    window = (float(start), float(end)) if start and end else state.window
    return replace(
        state,
        master=master,
        measured=measured,
        window=window,
        last_answer_at=now if obs.conductor is not None else state.last_answer_at,
        attempts=0,
        next_attempt_at=None,
    )


def _observing(state: RunState, obs: Observation, now: float) -> Decision:
    if obs.master_gone:  # gone before it was ever seen answering
        return _end(state, now, Reason.MASTER_GONE, f"{obs.master_gone}; {_measured(state)}")
    state = _remember(state, obs, now)
    actions: list[Action] = [StopLoad()] if obs.interrupted else []
    conductor = obs.conductor
    if conductor is None:
        message = f"master not answering yet: {obs.unanswered}" if obs.unanswered else ""
        return Decision(replace(state, message=message or state.message), actions)
    stage = conductor.get("state")
    message = str(conductor.get("message") or state.message)
    if stage == "error":
        return _end(state, now, Reason.LOAD_GENERATOR_ERROR, f"{message}; pods: {obs.pods}")
    if stage == "finished":
        state = _enter(state, Phase.EVALUATING.value, now, "reading the result")
        return Decision(state, actions)
    if stage not in (None, "waiting") and state.phase == Phase.STARTING.value:
        state = _enter(state, Phase.RUNNING.value, now, message)
        return Decision(state, [*actions, Event("Normal", "Running", "all workers connected")])
    return Decision(replace(state, message=message), actions)


def _evaluating(state: RunState, obs: Observation, now: float) -> Decision:
    if state.result is None:
        state = _remember(state, obs, now)
        if obs.result is None:
            if (obs.conductor or {}).get("state") == "error":
                message = obs.conductor.get("message") or "load generator error"  # type: ignore[union-attr]
                return _end(state, now, Reason.LOAD_GENERATOR_ERROR, message)
            return Decision(state, [])
        start, end = obs.result.get("windowStart"), obs.result.get("windowEnd")
        if start is not None and end is not None:
            state = replace(state, window=(float(start), float(end)))
        state = replace(state, result=obs.result)
        if not state.cloudwatch:
            return _judge(state, now, obs.result, "")
    if obs.cloudwatch_done is None:
        return Decision(state, [])
    if obs.cloudwatch_done:
        return _judge(state, now, state.result, obs.cloudwatch_message)
    retry = max(obs.cloudwatch_retry_after, 1.0)
    return Decision(replace(state, next_attempt_at=now + retry, message=obs.cloudwatch_message), [])


def _judge(state: RunState, now: float, result: dict[str, Any], note: str) -> Decision:
    lost = list(result.get("incompleteWorkers") or [])
    actions: list[Action] = []
    if lost:
        names = ", ".join(lost)
        actions.append(
            Event("Warning", Reason.WORKER_LOST.value, f"worker(s) lost during the window: {names}")
        )
    reason = Reason.WORKER_LOST if lost else Reason.PASSED  # the runtime's judge refines it
    finish = Finish(reason=reason, message=note, error=False, result=result)
    final = replace(state, phase=Phase.COMPLETED.value, phase_since=now, message=note)
    return Decision(final, [*actions, finish])


def _end(state: RunState, now: float, reason: Reason, message: str) -> Decision:
    final = replace(state, phase=Phase.ERROR.value, phase_since=now, message=message)
    return Decision(
        final, [Event("Warning", reason.value, message), Finish(reason, message, error=True)]
    )


def _enter(state: RunState, phase: str, now: float, message: str) -> RunState:
    return replace(
        state, phase=phase, phase_since=now, message=message, attempts=0, next_attempt_at=None
    )


def _measured(state: RunState) -> str:
    return (state.measured or Measured()).describe()


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


# ------------------------------------------------------------------ one tick


def tick(
    state: RunState,
    observe: Callable[[RunState, set[Need]], Observation],
    clock: Callable[[], float],
    max_rounds: int = 3,
) -> Decision:
    """One tick of a runtime: observe what is needed, advance, again while the needs change
    (so a phase change is followed at once); always at least one `advance`, so deadlines
    hold even while nothing is observed (a backoff, a retry-after)."""
    actions: list[Action] = []
    wanted = needs(state, clock())
    for _ in range(max_rounds):
        observation = observe(state, wanted) if wanted else Observation()
        decision = advance(state, observation, clock())
        state, actions = decision.state, actions + decision.actions
        following = needs(state, clock())
        if state.finished or not following or following == wanted:
            break
        wanted = following
    return Decision(state, actions)
