"""One tick of a test's life in a cluster: observe what the lifecycle asks, carry out
what it decides, and return a status patch.

The whole state lives in the object (status.phase, status.runToken, status.lifecycle),
so a restarted operator resumes where the last one stopped: children are created by
fixed names (a second create is a no-op), the verdict is written once, in the same
patch that moves the phase to Completed, and children are removed only in a later
tick, after that patch is stored. The run's rules (phases, deadlines, restarts) are
engine/lifecycle.py's; this module only knows how to look at pods and the API server.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
from endpoint_loadtest.engine import timeline
from endpoint_loadtest.engine.capacity import evaluate_run, step_windows
from endpoint_loadtest.engine.observe import (
    MasterClient,
    MasterUnavailable,
    ResultUnverified,
    Snapshot,
)
from endpoint_loadtest.engine.plan import WEB_PORT, PlanError, build_plan
from endpoint_loadtest.engine.status import completed_status, error_status, now
from endpoint_loadtest.k8s.cluster import TRANSIENT_ERRORS, ApiRefused, PodState, api_refusal
from endpoint_loadtest.k8s.manifests import build_children, names, placement_for
from endpoint_loadtest.k8s.run_secret import derive_token, secret_name
from endpoint_loadtest.k8s.settings import Settings
from endpoint_loadtest.observability import cloudwatch

log = logging.getLogger("elt.operator")
RERUN_ANNOTATION = "perf.elt.dev/rerun"
HISTORY_LENGTH = 10
FINISHED = lc.FINISHED
CHILDREN_REMOVED = "childrenRemoved"
# Fields that change on every poll: written at most this often (phase changes at once).
LIVE_WRITE_SECONDS = 5.0
LIVE_KEYS = ("progress", "workers", "message", "series")


@dataclass
class Step:
    """What one tick decided: a status patch and events to emit."""

    status: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    delete_test: bool = False
    snapshot: Snapshot | None = None  # the master's last poll, for the exporter
    live_only: bool = False  # only live figures changed: may be skipped for a few seconds
    remove_children: bool = False  # after this patch is stored

    def event(self, kind: str, reason: str, message: str) -> None:
        self.events.append((kind, reason, message))


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


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


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
                _Tick(self, body, step).run()
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
            message = f"invalid spec: {describe_validation_error(error)}"
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
        finished = _parse_time(status.get("finishedAt"))
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
            started_at=_parse_time(step.status.get("startedAt") or status.get("startedAt"))
            or now(),
            message=message,
            generation=body["metadata"].get("generation"),
            reason=reason,
        )
        step.status = {**step.status, **_without_history(final.to_wire()), "progress": None}
        step.event("Warning", reason, message)


class _Tick:
    """One tick of a started run: the lifecycle's observations, then its actions."""

    def __init__(self, reconciler: Reconciler, body: dict[str, Any], step: Step) -> None:
        self.r = reconciler
        self.body = body
        self.step = step
        self.meta = body["metadata"]
        self.status = body.get("status") or {}
        self.name, self.namespace = self.meta["name"], self.meta["namespace"]
        self.run_id = self.status["runId"]
        self.spec = EndpointLoadTestSpec.model_validate(body["spec"])
        self.pods: list[PodState] = []
        self.master_ip: str | None = None
        self.scrape: cloudwatch.Scrape | None = None

    def state(self) -> lc.RunState:
        wire = self.status.get("lifecycle")
        fallback = self.r.deadlines(self.spec)
        if wire:
            return lc.RunState.from_wire(self.status["phase"], wire, fallback)
        started = _parse_time(self.status.get("startedAt"))
        at = started.timestamp() if started else self.r.clock()
        cw = cloudwatch.target_dimensions(self.spec) is not None and self.spec.cloudwatch.enabled
        return lc.RunState(
            phase=self.status["phase"], run_id=self.run_id, started_at=at, phase_since=at,
            deadlines=fallback, cloudwatch=cw,
        )  # fmt: skip

    def run(self) -> None:
        before = self.state()
        decision = lc.tick(before, self.observe, self.r.clock)
        state = decision.state
        for action in decision.actions:
            if isinstance(action, lc.Event):
                self.step.event(action.kind, action.reason, action.message)
        patch: dict[str, Any] = {"lifecycle": state.to_wire()}
        if state.phase != before.phase:
            patch["phase"] = state.phase
        if state.message and not state.finished:
            patch["message"] = state.message
        if self.step.snapshot is not None and not state.finished:
            self._live(patch, self.step.snapshot)
        finish = decision.finish
        if finish is not None:
            patch.update(self._final(finish, state))
        self.step.status = patch
        self.step.live_only = _live_only(self.status, patch)

    # ------------------------------------------------------------------ observing

    def observe(self, state: lc.RunState, wanted: set[lc.Need]) -> lc.Observation:
        try:
            if lc.Need.CREATE in wanted:
                return self._create()
            found: dict[str, Any] = {}
            if lc.Need.MASTER in wanted:
                found.update(self._master(state))
            if lc.Need.RESULT in wanted and self.master_ip:
                try:
                    found["result"] = self._client().result()
                except MasterUnavailable as error:
                    found.setdefault("unanswered", str(error))
                except ResultUnverified as error:
                    found["refusal"] = lc.result_unverified(str(error))
            if lc.Need.CLOUDWATCH in wanted:
                found.update(self._cloudwatch(state))
            return lc.Observation(**found)
        except ApiRefused as refused:
            return lc.Observation(refusal=lc.Refusal(str(refused), refused.permanent))
        except TRANSIENT_ERRORS as error:
            refused = api_refusal(error)
            return lc.Observation(refusal=lc.Refusal(str(refused), refused.permanent))

    def _create(self) -> lc.Observation:
        uid = self.meta["uid"]
        stale = [c for c in self.r.cluster.children(self.namespace, self.name, uid)
                 if c.run_id != self.run_id]  # fmt: skip
        for child in stale:
            self.r.cluster.delete(self.namespace, child)
        for run_id in sorted({c.run_id for c in stale if c.run_id}):
            self.r.cluster.delete_secret(self.namespace, secret_name(self.name, run_id))
        if stale:
            return lc.Observation(created=False)
        spec = self.r.settings.apply_defaults(self.spec)
        try:
            placement = placement_for(
                self.name, self.namespace, spec,
                start_timeout_seconds=self.r.settings.start_timeout_seconds,
            )  # fmt: skip
            plan = build_plan(spec, name=self.name, run_id=self.run_id, placement=placement)
        except PlanError as error:
            return lc.Observation(refusal=lc.Refusal(str(error), permanent=True))
        for manifest in build_children(
            self.name, self.namespace, self.run_id, spec, plan, self.r.settings.locust_image,
            token=self.r.run_token(self.meta, self.run_id),
            operator_peers=self.r.settings.security.operator_peers,
        ):  # fmt: skip
            manifest["metadata"]["ownerReferences"] = [_owner(self.body)]
            manifest["metadata"]["namespace"] = self.namespace
            self.r.cluster.create(self.namespace, manifest)
        return lc.Observation(created=True)

    def _master(self, state: lc.RunState) -> dict[str, Any]:
        """The master: the live pod of this run's master Deployment, and one poll of it."""
        self.pods = self.r.cluster.pods(self.namespace, self.name, self.run_id)
        prefix = f"{names(self.name)['master']}-"
        masters = [
            p for p in self.pods
            if p.component == "master" and p.owner.startswith(prefix) and not p.terminating
        ]  # fmt: skip
        found: dict[str, Any] = {"pods": _describe_pods(self.pods)}
        known = state.master
        if known is None and masters:  # first sight: the pod must be the run's own
            owners = self.r.cluster.master_replica_sets(
                self.namespace, self.name, self.run_id, self.meta["uid"]
            )
            masters = [p for p in masters if p.owner_uid in owners]
        if known is not None and known.uid not in {p.uid for p in masters}:
            found["master_gone"] = f"the master pod {known.uid} was deleted or replaced"
            return found
        master = next((p for p in masters if known is None or p.uid == known.uid), None)
        if master is None:
            found["unanswered"] = "no master pod yet"
            return found
        found["master"] = lc.MasterIdentity(uid=master.uid, restarts=master.restarts)
        if not master.ip:
            found["unanswered"] = "the master pod has no address yet"
            return found
        self.master_ip = master.ip
        try:
            snapshot = self._client().poll()
        except MasterUnavailable as error:
            found["unanswered"] = str(error)
            return found
        self.step.snapshot = snapshot
        found["conductor"] = snapshot.status
        found["measured"] = lc.Measured.from_poll(snapshot.status, snapshot.stats)
        return found

    def _cloudwatch(self, state: lc.RunState) -> dict[str, Any]:
        if state.window is None:
            return {"cloudwatch_done": True, "cloudwatch_message": "no window times reported"}
        scrape, decision = cloudwatch.final_step(self.spec, *state.window)
        self.scrape = scrape
        return {
            "cloudwatch_done": decision.done,
            "cloudwatch_retry_after": decision.retry_after,
            "cloudwatch_message": decision.message,
        }

    def _client(self) -> MasterClient:
        """The master at its pod's own address (not the Service, which publishes only the
        workers' port), with the run's token."""
        url = f"http://{self.master_ip}:{WEB_PORT}"
        return self.r.master_client(url, self.r.run_token(self.meta, self.run_id), self.run_id)

    # ------------------------------------------------------------------ carrying out

    def _live(self, patch: dict[str, Any], snapshot: Snapshot) -> None:
        workers = snapshot.status.get("workers") or {}
        patch["workers"] = {
            "expected": workers.get("expected", 0),
            "connected": workers.get("connected", 0),
        }
        progress = snapshot.progress()
        patch["progress"] = progress.to_wire()
        patch["series"] = timeline.add_point(
            self.status.get("series"), snapshot.at, progress, snapshot.status
        )
        key = (self.namespace, self.name)
        start = snapshot.status.get("windowStart")
        if start is None or not cloudwatch.live_due(
            self.spec, self.r.cloudwatch_scraped_at.get(key), time.time()
        ):
            return
        self.r.cloudwatch_scraped_at[key] = time.time()
        scrape = cloudwatch.scrape_window(self.spec, float(start), time.time())
        if scrape.figures is not None:
            patch["progress"]["cloudwatch"] = scrape.figures.to_wire()
        conditions = [
            c for c in self.status.get("conditions") or [] if c.get("type") != "CloudWatchAvailable"
        ]
        patch["conditions"] = [*conditions, scrape.condition(self.meta.get("generation")).to_wire()]

    def _final(self, finish: lc.Finish, state: lc.RunState) -> dict[str, Any]:
        generation = self.meta.get("generation")
        started = _parse_time(self.status.get("startedAt"))
        if finish.error or finish.result is None:
            final = error_status(
                run_id=self.run_id, started_at=started, message=finish.message,
                generation=generation, reason=finish.reason.value,
            )  # fmt: skip
            return {**_without_history(final.to_wire()), "progress": None}
        window = dict(finish.result)
        if state.window is not None:
            window.setdefault("windowStart", state.window[0])
            window.setdefault("windowEnd", state.window[1])
        figures, conditions, per_step = None, [], None
        if self.scrape is not None:
            figures = self.scrape.figures
            conditions = [self.scrape.condition(generation)]
            if figures is not None and self.spec.search is not None:  # each step's window
                per_step = [
                    cloudwatch.scrape_window(self.spec, start, end).figures
                    for start, end in step_windows(window, self.spec.cloudwatch.period)
                ]
        results, verdict, capacity = evaluate_run(window, self.spec, figures, per_step)
        reason = finish.reason.value if finish.reason == lc.Reason.WORKER_LOST else None
        final = completed_status(
            run_id=self.run_id, started_at=started, results=results, verdict=verdict,
            generation=generation, conditions=conditions, reason=reason, capacity=capacity,
        )  # fmt: skip
        kind = "Normal" if verdict.result == "Passed" else "Warning"
        self.step.event(kind, str(verdict.result), verdict.message)
        return {**_without_history(final.to_wire()), "progress": None}


def _live_only(current: dict[str, Any], patch: dict[str, Any]) -> bool:
    """Whether the patch changes nothing but live figures (and the lifecycle's liveness)."""
    volatile = ("lastAnswerAt", "measured")
    for key, value in patch.items():
        if key == "lifecycle":  # null in a patch is absent once stored
            old = {k: v for k, v in (current.get(key) or {}).items()
                   if k not in volatile and v is not None}  # fmt: skip
            new = {k: v for k, v in value.items() if k not in volatile and v is not None}
            if old != new:
                return False
        elif key not in LIVE_KEYS and current.get(key) != value:
            return False
    return True


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
        started_at=_parse_time(status.get("startedAt")),
        finished_at=_parse_time(status.get("finishedAt")) or now(),
        verdict=verdict,
        result=result,
        reason=status.get("reason") or (result.value if result == RunResult.SUPERSEDED else None),
        tps=(status.get("results") or {}).get("tps"),
        p99_ms=((status.get("results") or {}).get("latencyMs") or {}).get("p99"),
    )


def _without_history(status: dict[str, Any]) -> dict[str, Any]:
    """A final status patch must not replace the history of earlier runs."""
    return {k: v for k, v in status.items() if k != "history"}


def _owner(body: dict[str, Any]) -> dict[str, Any]:
    meta = body["metadata"]
    return {
        "apiVersion": body["apiVersion"],
        "kind": body["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _describe_pods(pods: list[PodState]) -> str:
    if not pods:
        return "no pods were created (check the Deployments' events and the namespace's quotas)"
    return "; ".join(p.describe() for p in sorted(pods, key=lambda p: p.name))
