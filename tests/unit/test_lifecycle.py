"""The run's lifecycle, one row per scenario: a state, an observation, a time -> what follows."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest

from endpoint_loadtest.api.models import EndpointLoadTestSpec
from endpoint_loadtest.engine.lifecycle import (
    Deadlines,
    Event,
    Finish,
    MasterIdentity,
    Measured,
    Need,
    Observation,
    Reason,
    Refusal,
    RunState,
    StopLoad,
    advance,
    deadlines_for,
    needs,
    new_run,
    result_unverified,
    tick,
)

T0 = 1_000_000.0
TABLE = Deadlines(start=180, silence=30, evaluating=120, overall=900)
MASTER = MasterIdentity(uid="pod-1", restarts=0, conductor_id="c-1")
SEEN = Measured(requests=1234, failures=2, elapsed_seconds=42, stage="measuring")


def state(phase: str, since: float = T0, **changes: Any) -> RunState:
    base = new_run("run1", TABLE, T0, cloudwatch=False)
    return replace(base, phase=phase, phase_since=since, **changes)


def conductor(stage: str, **extra: Any) -> dict[str, Any]:
    return {"state": stage, "message": stage, "runId": "run1", "conductorId": "c-1", **extra}


RUNNING = dict(master=MASTER, measured=SEEN, last_answer_at=T0 + 50)

# (id, state, observation, seconds after T0, phase after, reason of the end or None)
ROWS = [
    ("children created", state("Pending"), Observation(created=True), 1, "Starting", None),
    (
        "child refused (4xx): Error with the API server's message, no retry",
        state("Pending"),
        Observation(refusal=Refusal('Deployment "x" is invalid: quantities', permanent=True)),
        1, "Error", Reason.REFUSED,
    ),
    (
        "transient API error: retried, visible in the message",
        state("Pending"),
        Observation(refusal=Refusal("503 Service Unavailable", permanent=False)),
        1, "Pending", None,
    ),
    (
        "start timeout while starting",
        state("Starting"), Observation(unanswered="no master pod"), 181, "Error",
        Reason.START_TIMEOUT,
    ),
    (
        "start timeout does not apply while running (NotReady master still answers)",
        state("Running", T0, **RUNNING),
        Observation(master=MASTER, conductor=conductor("measuring")),
        400, "Running", None,
    ),
    (
        "all workers connected: Running",
        state("Starting"), Observation(master=MASTER, conductor=conductor("rampUp")), 5,
        "Running", None,
    ),
    (
        "master silent for longer than the silence timeout",
        state("Running", T0, **RUNNING), Observation(master=MASTER, unanswered="refused"), 81,
        "Error", Reason.MASTER_SILENT,
    ),
    (
        "master silent, but not for long",
        state("Running", T0, **RUNNING), Observation(master=MASTER, unanswered="refused"), 60,
        "Running", None,
    ),
    (
        "master pod replaced (new uid)",
        state("Running", T0, **RUNNING),
        Observation(master=replace(MASTER, uid="pod-2"), conductor=conductor("waiting")),
        60, "Error", Reason.MASTER_RESTARTED,
    ),
    (
        "master container restarted (restartCount up)",
        state("Running", T0, **RUNNING),
        Observation(master=replace(MASTER, restarts=1), conductor=conductor("waiting")),
        60, "Error", Reason.MASTER_RESTARTED,
    ),
    (
        "conductor restarted in the same pod (new conductor id)",
        state("Running", T0, **RUNNING),
        Observation(master=MASTER, conductor=conductor("rampUp", conductorId="c-2")),
        60, "Error", Reason.MASTER_RESTARTED,
    ),
    (
        "the master answering runs another run id",
        state("Running", T0, **RUNNING),
        Observation(master=MASTER, conductor=conductor("rampUp", runId="old")),
        60, "Error", Reason.MASTER_RESTARTED,
    ),
    (
        "master pod deleted",
        state("Running", T0, **RUNNING), Observation(master_gone="the master pod was deleted"),
        60, "Error", Reason.MASTER_RESTARTED,
    ),
    (
        "master process exited before it answered",
        state("Starting"), Observation(master_gone="Locust master exited with code 1"), 3,
        "Error", Reason.MASTER_GONE,
    ),
    (
        "load generator error",
        state("Running", T0, **RUNNING),
        Observation(master=MASTER, conductor=conductor("error", message="only 1 of 2 workers")),
        60, "Error", Reason.LOAD_GENERATOR_ERROR,
    ),
    (
        "conductor finished: Evaluating",
        state("Running", T0, **RUNNING),
        Observation(master=MASTER, conductor=conductor("finished")),
        60, "Evaluating", None,
    ),
    (
        "result in hand: judged",
        state("Evaluating", T0 + 60, **RUNNING),
        Observation(master=MASTER, conductor=conductor("finished"), result={"requests": 5}),
        61, "Completed", Reason.PASSED,
    ),
    (
        "lost worker: judged at once, naming the worker",
        state("Evaluating", T0 + 60, **RUNNING),
        Observation(master=MASTER, conductor=conductor("finished"),
                    result={"requests": 5, "incompleteWorkers": ["worker-b"]}),
        61, "Completed", Reason.WORKER_LOST,
    ),
    (
        "Evaluating is bounded when the result never comes",
        state("Evaluating", T0 + 60, **RUNNING), Observation(master=MASTER, unanswered=None),
        60 + 121, "Error", Reason.EVALUATION_TIMEOUT,
    ),
    (
        "overall deadline",
        state("Running", T0, **RUNNING),
        Observation(master=MASTER, conductor=conductor("measuring")), 901,
        "Error", Reason.DEADLINE_EXCEEDED,
    ),
    (
        "interrupted before the load: Error",
        state("Starting"), Observation(interrupted=True), 3, "Error", Reason.INTERRUPTED,
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "observation", "after", "phase", "reason"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_scenario(
    before: RunState, observation: Observation, after: float, phase: str, reason: Reason | None
) -> None:
    decision = advance(before, observation, T0 + after)
    assert decision.state.phase == phase, decision.state.message
    finish = decision.finish
    if reason is None:
        assert finish is None
        return
    assert finish is not None and finish.reason == reason
    if finish.error:  # every end: a reason, a message, an event
        events = [a for a in decision.actions if isinstance(a, Event)]
        assert [e.reason for e in events] == [reason.value]
        assert events[0].kind == "Warning" and finish.message


def test_master_restart_says_what_was_measured_before() -> None:
    before = state("Running", T0, **RUNNING)
    seen = Observation(master=replace(MASTER, uid="pod-2"), conductor=conductor("waiting"))
    finish = advance(before, seen, T0 + 60).finish
    assert finish is not None
    assert "1234 requests (2 failed)" in finish.message and "pod-1 -> pod-2" in finish.message


def test_lost_worker_is_named_in_a_warning_event() -> None:
    before = state("Evaluating", T0 + 60, **RUNNING)
    result = {"requests": 5, "incompleteWorkers": ["worker-b"]}
    decision = advance(before, Observation(master=MASTER, result=result), T0 + 61)
    events = [a for a in decision.actions if isinstance(a, Event)]
    assert events and "worker-b" in events[0].message and events[0].kind == "Warning"


def test_transient_errors_back_off_and_stay_visible() -> None:
    current = state("Pending")
    delays = []
    for attempt in range(1, 8):
        refusal = Refusal("429 Too Many Requests", permanent=False)
        current = advance(current, Observation(refusal=refusal), T0 + attempt).state
        assert "429" in current.message and f"attempt {attempt}" in current.message
        assert needs(current, T0 + attempt) == set()  # nothing to do until the backoff ends
        delays.append(current.next_attempt_at - (T0 + attempt))
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert needs(current, current.next_attempt_at) == {Need.CREATE}
    created = advance(current, Observation(created=True), current.next_attempt_at).state
    assert created.phase == "Starting" and created.attempts == 0


def test_cloudwatch_retry_after_is_honoured() -> None:
    before = replace(state("Evaluating", T0 + 60, **RUNNING), cloudwatch=True)
    got = advance(before, Observation(master=MASTER, result={"requests": 5}), T0 + 61).state
    assert needs(got, T0 + 61) == {Need.CLOUDWATCH}
    waiting = advance(
        got, Observation(cloudwatch_done=False, cloudwatch_retry_after=40, cloudwatch_message="w"),
        T0 + 61,
    ).state  # fmt: skip
    assert needs(waiting, T0 + 100) == set() and waiting.phase == "Evaluating"
    # No poll while waiting is no silence.
    assert advance(waiting, Observation(), T0 + 100).state.phase == "Evaluating"
    assert needs(waiting, T0 + 101)
    done = advance(got, Observation(cloudwatch_done=True, cloudwatch_message="ok"), T0 + 101)
    assert done.finish is not None and done.state.phase == "Completed"


def test_cloudwatch_that_never_answers_still_gives_a_verdict() -> None:
    got = replace(state("Evaluating", T0 + 60, **RUNNING), cloudwatch=True, result={"x": 1})
    decision = advance(got, Observation(), T0 + 60 + 121)
    assert decision.finish is not None and not decision.finish.error
    assert "CloudWatch" in decision.finish.message


def test_interrupt_while_running_stops_the_load_and_waits_for_the_result() -> None:
    before = state("Running", T0, **RUNNING)
    seen = Observation(master=MASTER, conductor=conductor("measuring"), interrupted=True)
    decision = advance(before, seen, T0 + 60)
    assert any(isinstance(a, StopLoad) for a in decision.actions)
    assert decision.state.phase == "Running"


def test_interrupt_seen_with_the_first_measuring_answer_stops_the_load() -> None:
    # Ctrl-C lands in the same poll that first shows the load under way: that run measured
    # something, so it is judged (Inconclusive), not an Error "before the load started".
    before = state("Starting", T0)
    seen = Observation(master=MASTER, conductor=conductor("measuring"), interrupted=True)
    decision = advance(before, seen, T0 + 5)
    assert any(isinstance(a, StopLoad) for a in decision.actions)
    assert decision.state.phase == "Running"


def test_a_finished_run_does_nothing() -> None:
    done = state("Completed")
    assert needs(done, T0) == set()
    assert advance(done, Observation(refusal=Refusal("x", True)), T0 + 5000).actions == []


def test_state_survives_the_wire() -> None:
    before = replace(state("Running", T0, **RUNNING), window=(T0 + 5, T0 + 50), attempts=2)
    wire = before.to_wire()
    assert "masterUid" not in wire and wire["master"]["conductorId"] == "c-1"
    again = RunState.from_wire("Running", wire, Deadlines())
    assert again == replace(before, message="")


def test_tick_follows_a_phase_change_at_once() -> None:
    seen: list[set[Need]] = []

    def observe(current: RunState, wanted: set[Need]) -> Observation:
        seen.append(wanted)
        if Need.CREATE in wanted:
            return Observation(created=True)
        return Observation(master=MASTER, conductor=conductor("rampUp"))

    decision = tick(state("Pending"), observe, lambda: T0 + 1)
    assert seen == [{Need.CREATE}, {Need.MASTER}]
    assert decision.state.phase == "Running"
    assert [a.reason for a in decision.actions if isinstance(a, Event)] == ["Starting", "Running"]


def test_deadlines_come_from_the_spec() -> None:
    spec = EndpointLoadTestSpec.model_validate(
        {
            "target": {"sagemaker": {"endpointName": "e", "region": "us-east-1"}},
            "payload": {"body": "{}"},
            "load": {"users": 10, "spawnRate": 10, "warmup": "5s", "duration": "60s"},
        }
    )
    table = deadlines_for(spec, start=60)
    assert table.start == 60 and table.silence == 30
    assert table.overall > 60 + 66 + table.evaluating  # start + planned + evaluating + margin
    assert table.overall < 60 + 66 + table.evaluating + 120  # and not much more


def test_finish_carries_the_result_to_judge() -> None:
    before = state("Evaluating", T0 + 60, **RUNNING)
    finish = advance(before, Observation(result={"requests": 7}), T0 + 61).finish
    assert isinstance(finish, Finish) and finish.result == {"requests": 7}


def test_a_result_that_fails_verification_is_an_error_never_a_verdict() -> None:
    before = state("Evaluating", T0 + 60, **RUNNING)
    refusal = result_unverified("the result's signature does not match the run's token")
    decision = advance(before, Observation(refusal=refusal), T0 + 61)
    finish = decision.finish
    assert isinstance(finish, Finish) and finish.error and finish.result is None
    assert finish.reason == Reason.RESULT_UNVERIFIED
    assert "was not judged: the result's signature" in finish.message
    assert Event("Warning", "ResultUnverified", finish.message) in decision.actions


def test_the_poll_series_stays_bounded_over_a_day() -> None:
    from endpoint_loadtest.engine.observe import Series, Snapshot

    series = Series(limit=500)
    stats = {"stats": [{"name": "Aggregated", "num_requests": 1}], "current_rps": 1.0}
    for second in range(86_400):  # one poll a second for 24 hours
        series.add(Snapshot(at=float(second), status={"state": "measuring"}, stats=stats))
    points = series.to_list()
    assert len(points) <= 501
    assert points[0]["at"] == 0.0 and points[-1]["at"] == 86_399.0
    steps = {b["at"] - a["at"] for a, b in itertools.pairwise(points[:-1])}
    assert len(steps) == 1  # evenly spread
