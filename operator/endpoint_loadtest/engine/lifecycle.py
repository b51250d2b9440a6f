"""The life of one run, as one pure function: `advance(state, observation, now)`.

Both runtimes (`elt run` and the operator) ask `needs(state, now)` what to look at,
observe it their own way (processes and a local port, or pods and an API server),
and hand the result to `advance`, which returns the next state and the actions to
carry out (events to emit, the end of the run); `tick` does one round of that. This
module holds the transitions only; the data they work on is in run_state.py (the
state, the reasons) and run_messages.py (observations, decisions, actions), and every
deadline is in one table, deadlines.py's `Deadlines`, so the two runtimes cannot
drift apart. Nothing here knows kopf, Kubernetes or processes.

Pending -> Starting -> Running -> Evaluating -> Completed, or Error from any phase.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from endpoint_loadtest.api.models import Phase
from endpoint_loadtest.engine.deadlines import Deadlines, deadlines_for
from endpoint_loadtest.engine.run_messages import (
    Action,
    Decision,
    Event,
    Finish,
    Need,
    Observation,
    Refusal,
    StopLoad,
    cloudwatch_step,
    result_unverified,
)
from endpoint_loadtest.engine.run_state import (
    FINISHED,
    MasterIdentity,
    Measured,
    Reason,
    RunState,
    new_run,
)

__all__ = [  # the lifecycle's whole vocabulary, importable from here as before
    "FINISHED",
    "MAX_BACKOFF_SECONDS",
    "Action",
    "Deadlines",
    "Decision",
    "Event",
    "Finish",
    "MasterIdentity",
    "Measured",
    "Need",
    "Observation",
    "Reason",
    "Refusal",
    "RunState",
    "StopLoad",
    "advance",
    "cloudwatch_step",
    "deadlines_for",
    "needs",
    "new_run",
    "result_unverified",
    "tick",
]

MAX_BACKOFF_SECONDS = 30.0


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
