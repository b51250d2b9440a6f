"""One tick of a test's life in a cluster: observe what the lifecycle asks, carry out
what it decides, and return a status patch.

The whole state lives in the object (status.phase, status.runToken, status.lifecycle),
so a restarted operator resumes where the last one stopped: children are created by
fixed names (a second create is a no-op), the verdict is written once, in the same
patch that moves the phase to Completed, and children are removed only in a later
tick, after that patch is stored. The run's rules (phases, deadlines, restarts) are
engine/lifecycle.py's; the k8s runtime only knows how to look at pods and the API
server. Here: the entry of every tick, a new run (its first status, the history line of
the run it replaces), a finished one (children removed, the TTL) and an error; a started
run's tick is run_tick.py's.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from endpoint_loadtest.api.loader import describe_validation_error
from endpoint_loadtest.api.models import (
    Condition,
    EndpointLoadTestSpec,
    Phase,
    RunRecord,
    RunResult,
)
from endpoint_loadtest.engine import lifecycle as lc
from endpoint_loadtest.engine.observe import MasterClient
from endpoint_loadtest.engine.status import error_status, now
from endpoint_loadtest.k8s.cluster import TRANSIENT_ERRORS
from endpoint_loadtest.k8s.run_secret import derive_token, secret_name
from endpoint_loadtest.k8s.run_tick import RunTick, Step
from endpoint_loadtest.k8s.settings import Settings
from endpoint_loadtest.k8s.status_figures import parse_time, without_history
from endpoint_loadtest.observability import cloudwatch

__all__ = ["LIVE_WRITE_SECONDS", "Reconciler", "Step", "needs_timer", "run_token"]

log = logging.getLogger("elt.operator")
RERUN_ANNOTATION = "perf.elt.dev/rerun"
HISTORY_LENGTH = 10
FINISHED = lc.FINISHED
CHILDREN_REMOVED = "childrenRemoved"
# Fields that change on every poll: written at most this often (phase changes at once).
LIVE_WRITE_SECONDS = 5.0


def run_token(meta: dict[str, Any]) -> str:
    """What identifies the run a spec asks for: its generation and the rerun annotation."""
    rerun = (meta.get("annotations") or {}).get(RERUN_ANNOTATION, "")
    return f"{meta.get('generation', 0)}/{rerun}"


def needs_timer(body: dict[str, Any]) -> bool:
    """Whether a test needs stepping: not finished, children left, a TTL, or a new run asked.

    The operator's timer filter: a finished test costs no timer (and so no finalizer)."""
    status = body.get("status") or {}
    if status.get("runToken") != run_token(body.get("metadata") or {}):
        return True
    if status.get("phase") not in FINISHED:
        return True
    if not (status.get("lifecycle") or {}).get(CHILDREN_REMOVED):
        return True
    return (body.get("spec") or {}).get("ttlSecondsAfterFinished") is not None


def _running_conditions(generation: int | None, message: str) -> list[dict[str, Any]]:
    at = now()
    return [
        Condition(
            type=kind,
            status="False" if kind == "Completed" else "Unknown",
            reason="Running",
            message=message,
            last_transition_time=at,
            observed_generation=generation,
        ).to_wire()
        for kind in ("Completed", "Passed")
    ]


class Reconciler:
    def __init__(
        self,
        cluster: Any,
        settings: Settings,
        master_client: Callable[..., MasterClient] = MasterClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cluster = cluster
        self.settings = settings
        self.master_client = master_client
        self.clock = clock
        # When each running test's CloudWatch figures were last read (in memory: after a
        # restart the next scrape simply comes sooner).
        self.cloudwatch_scraped_at: dict[tuple[str, str], float] = {}
        settings.security.warn_if_ephemeral()

    # ------------------------------------------------------------------ entry

    def step(self, body: dict[str, Any]) -> Step:
        meta = body["metadata"]
        status = body.get("status") or {}
        step = Step()
        token = run_token(meta)
        if status.get("runToken") != token:
            self._new_run(body, token, step)
        elif status.get("phase") in FINISHED:
            self._finished(body, step)
        elif status.get("phase"):
            try:
                RunTick(self, body, step).run()
            except Exception as error:  # a test must end, even on the operator's own bug
                log.exception("stepping %s/%s failed", meta["namespace"], meta["name"])
                step.events.clear()
                message = f"the operator failed on this test: {type(error).__name__}: {error}"
                self._error(body, step, status["runId"], message, lc.Reason.INTERNAL_ERROR.value)
        return step

    def forget(self, namespace: str, name: str) -> None:
        self.cloudwatch_scraped_at.pop((namespace, name), None)

    def deadlines(self, spec: EndpointLoadTestSpec) -> lc.Deadlines:
        return lc.deadlines_for(spec, start=self.settings.start_timeout_seconds)

    # ------------------------------------------------------------------ runs

    def _new_run(self, body: dict[str, Any], token: str, step: Step) -> None:
        meta, status = body["metadata"], body.get("status") or {}
        run_id = uuid.uuid4().hex[:8]
        history = list(status.get("history") or [])
        if status.get("runId"):
            history = [_record(status).to_wire(), *history][:HISTORY_LENGTH]
            if status.get("phase") not in FINISHED:
                step.event(
                    "Warning", "Superseded",
                    f"run {status['runId']} was superseded by run {run_id}: the spec changed "
                    f"in phase {status.get('phase')}",
                )  # fmt: skip
        generation = meta.get("generation")
        step.status = {
            "runId": run_id,
            "runToken": token,
            "phase": Phase.PENDING.value,
            "reason": None,
            "message": "creating the load generator",
            "startedAt": now().isoformat(),
            "finishedAt": None,
            "results": None,
            "verdict": None,
            "capacity": None,
            "progress": None,
            "workers": None,
            "series": None,
            "history": history,
            "observedGeneration": generation,
            "conditions": _running_conditions(generation, "run starting"),
        }
        try:
            spec = EndpointLoadTestSpec.model_validate(body.get("spec") or {})
            self.settings.check_caps(spec)
            self.settings.security.check_cloudwatch(spec)
        except ValidationError as error:
            message = "invalid spec: " + describe_validation_error(error, root="spec")
            self._error(body, step, run_id, message, lc.Reason.INVALID_SPEC.value)
            return
        except ValueError as error:
            self._error(body, step, run_id, str(error), lc.Reason.INVALID_SPEC.value)
            return
        cw = cloudwatch.target_dimensions(spec) is not None and spec.cloudwatch.enabled
        state = lc.new_run(run_id, self.deadlines(spec), self.clock(), cloudwatch=cw)
        step.status["lifecycle"] = state.to_wire()
        step.event("Normal", "RunCreated", f"run {run_id} created")

    def _finished(self, body: dict[str, Any], step: Step) -> None:
        """Remove the load generator once the final status is stored; honour the TTL."""
        status = body["status"]
        if not (status.get("lifecycle") or {}).get(CHILDREN_REMOVED):
            try:
                self.remove_children(body)
            except TRANSIENT_ERRORS:
                return  # the next tick tries again
            step.status = {"lifecycle": {**(status.get("lifecycle") or {}), CHILDREN_REMOVED: True}}
        ttl = (body.get("spec") or {}).get("ttlSecondsAfterFinished")
        finished = parse_time(status.get("finishedAt"))
        if ttl is not None and finished is not None and now() >= finished + timedelta(seconds=ttl):
            step.delete_test = True

    def remove_children(self, body: dict[str, Any]) -> None:
        """The run's pods, Service, policy and Secret (the plan ConfigMap stays)."""
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        for child in self.cluster.children(namespace, name, meta["uid"]):
            if child.kind != "ConfigMap":
                self.cluster.delete(namespace, child)
        run_id = (body.get("status") or {}).get("runId")
        if run_id:
            self.cluster.delete_secret(namespace, secret_name(name, run_id))

    def run_token(self, meta: dict[str, Any], run_id: str) -> str:
        """The run's token (derived, never stored: see k8s/run_secret.py)."""
        key = self.settings.security.run_token_key
        return derive_token(key, meta["namespace"], meta["name"], meta["uid"], run_id)

    def _error(
        self, body: dict[str, Any], step: Step, run_id: str, message: str, reason: str
    ) -> None:
        status = body.get("status") or {}
        final = error_status(
            run_id=run_id,
            started_at=parse_time(step.status.get("startedAt") or status.get("startedAt")) or now(),
            message=message,
            generation=body["metadata"].get("generation"),
            reason=reason,
        )
        step.status = {**step.status, **without_history(final.to_wire()), "progress": None}
        step.event("Warning", reason, message)


def _record(status: dict[str, Any]) -> RunRecord:
    """The history line of the run a new one replaces (Superseded if it had not ended)."""
    verdict = (status.get("verdict") or {}).get("result")
    phase = status.get("phase")
    if phase == Phase.COMPLETED.value and verdict:
        result = RunResult(verdict)
    elif phase == Phase.ERROR.value:
        result = RunResult.ERROR
    else:
        result = RunResult.SUPERSEDED
    return RunRecord(
        run_id=status["runId"],
        started_at=parse_time(status.get("startedAt")),
        finished_at=parse_time(status.get("finishedAt")) or now(),
        verdict=verdict,
        result=result,
        reason=status.get("reason") or (result.value if result == RunResult.SUPERSEDED else None),
        tps=(status.get("results") or {}).get("tps"),
        p99_ms=((status.get("results") or {}).get("latencyMs") or {}).get("p99"),
    )
