"""One step of a test's life in a cluster, from its current object to a status patch.

The whole state lives in the object (status.phase, status.runId, status.runToken),
so a restarted operator resumes where the last one stopped: children are created
by fixed names (a second create is a no-op), the verdict is written once, in the
same patch that moves the phase to Completed, and children are removed only in a
later step, after that patch is stored.

Pending -> Starting -> Running -> Evaluating -> Completed, or Error from any step.
"""

from __future__ import annotations

import time
import uuid
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
)
from endpoint_loadtest.engine.observe import MasterClient, MasterUnavailable, Snapshot
from endpoint_loadtest.engine.plan import WEB_PORT, PlanError, build_plan
from endpoint_loadtest.engine.status import completed_status, error_status, evaluate, now
from endpoint_loadtest.k8s.cluster import Cluster, PodState
from endpoint_loadtest.k8s.manifests import build_children, placement_for
from endpoint_loadtest.k8s.settings import Settings
from endpoint_loadtest.observability import cloudwatch

RERUN_ANNOTATION = "perf.elt.dev/rerun"
HISTORY_LENGTH = 10
FINISHED = (Phase.COMPLETED.value, Phase.ERROR.value)


@dataclass
class Step:
    """What one step decided: a status patch and events to emit."""

    status: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    delete_test: bool = False
    snapshot: Snapshot | None = None  # the master's last poll, for the exporter

    def event(self, kind: str, reason: str, message: str) -> None:
        self.events.append((kind, reason, message))


def run_token(meta: dict[str, Any]) -> str:
    """What identifies the run a spec asks for: its generation and the rerun annotation."""
    rerun = (meta.get("annotations") or {}).get(RERUN_ANNOTATION, "")
    return f"{meta.get('generation', 0)}/{rerun}"


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
    def __init__(self, cluster: Cluster, settings: Settings) -> None:
        self.cluster = cluster
        self.settings = settings
        # When each running test's CloudWatch figures were last read (in memory: after a
        # restart the next scrape simply comes sooner).
        self.cloudwatch_scraped_at: dict[tuple[str, str], float] = {}

    # ------------------------------------------------------------------ entry

    def step(self, body: dict[str, Any]) -> Step:
        meta = body["metadata"]
        status = body.get("status") or {}
        step = Step()
        token = run_token(meta)
        if status.get("runToken") != token:
            self._new_run(body, token, step)
            return step
        phase = status.get("phase")
        handler = {
            Phase.PENDING.value: self._pending,
            Phase.STARTING.value: self._observe,
            Phase.RUNNING.value: self._observe,
            Phase.EVALUATING.value: self._evaluate,
            Phase.COMPLETED.value: self._finished,
            Phase.ERROR.value: self._finished,
        }.get(phase)
        if handler is not None:
            handler(body, step)
        return step

    # ------------------------------------------------------------------ phases

    def _new_run(self, body: dict[str, Any], token: str, step: Step) -> None:
        meta, status = body["metadata"], body.get("status") or {}
        run_id = uuid.uuid4().hex[:8]
        history = list(status.get("history") or [])
        if status.get("runId") and status.get("phase") in FINISHED:
            record = RunRecord(
                run_id=status["runId"],
                started_at=_parse_time(status.get("startedAt")),
                finished_at=_parse_time(status.get("finishedAt")),
                verdict=(status.get("verdict") or {}).get("result"),
                tps=(status.get("results") or {}).get("tps"),
                p99_ms=((status.get("results") or {}).get("latencyMs") or {}).get("p99"),
            )
            history = [record.to_wire(), *history][:HISTORY_LENGTH]
        generation = meta.get("generation")
        step.status = {
            "runId": run_id,
            "runToken": token,
            "phase": Phase.PENDING.value,
            "message": "creating the load generator",
            "startedAt": now().isoformat(),
            "finishedAt": None,
            "results": None,
            "verdict": None,
            "progress": None,
            "workers": None,
            "history": history,
            "observedGeneration": generation,
            "conditions": _running_conditions(generation, "run starting"),
        }
        try:
            spec = EndpointLoadTestSpec.model_validate(body.get("spec") or {})
            self.settings.check_caps(spec)
        except ValidationError as error:
            self._error(body, step, run_id, f"invalid spec: {describe_validation_error(error)}")
        except ValueError as error:
            self._error(body, step, run_id, str(error))
        else:
            step.event("Normal", "RunCreated", f"run {run_id} created")

    def _pending(self, body: dict[str, Any], step: Step) -> None:
        meta, status = body["metadata"], body["status"]
        name, namespace, run_id = meta["name"], meta["namespace"], status["runId"]
        stale = [c for c in self.cluster.children(namespace, name) if c.run_id != run_id]
        if stale:
            for child in stale:
                self.cluster.delete(namespace, child)
            step.status = {"message": f"removing {len(stale)} object(s) of the previous run"}
            return
        spec = self.settings.apply_defaults(EndpointLoadTestSpec.model_validate(body["spec"]))
        try:
            plan = build_plan(
                spec, name=name, run_id=run_id, placement=placement_for(name, namespace, spec)
            )
        except PlanError as error:
            self._error(body, step, run_id, str(error))
            return
        for manifest in build_children(
            name, namespace, run_id, spec, plan, self.settings.locust_image
        ):
            manifest["metadata"]["ownerReferences"] = [_owner(body)]
            manifest["metadata"]["namespace"] = namespace
            self.cluster.create(namespace, manifest)
        step.status = {
            "phase": Phase.STARTING.value,
            "message": f"waiting for the master and {spec.load.workers} worker(s)",
            "workers": {"expected": spec.load.workers, "connected": 0},
        }
        step.event("Normal", "Starting", f"created the Locust master and {plan.workers} worker(s)")

    def _observe(self, body: dict[str, Any], step: Step) -> None:
        meta, status = body["metadata"], body["status"]
        name, namespace, run_id = meta["name"], meta["namespace"], status["runId"]
        pods = self.cluster.pods(namespace, name, run_id)
        master = next((p for p in pods if p.component == "master" and p.ready and p.ip), None)
        started = _parse_time(status.get("startedAt")) or now()
        if master is None:
            if now() - started > timedelta(seconds=self.settings.start_timeout_seconds):
                self._error(
                    body,
                    step,
                    run_id,
                    f"the load generator did not start within "
                    f"{self.settings.start_timeout_seconds:.0f}s: {_describe_pods(pods)}",
                )
            return
        client = MasterClient(f"http://{master.ip}:{WEB_PORT}")
        try:
            snapshot = client.poll()
        except MasterUnavailable as error:
            step.status = {"message": f"master not answering yet: {error}"}
            return
        step.snapshot = snapshot
        workers = snapshot.status.get("workers") or {}
        step.status = {
            "workers": {
                "expected": workers.get("expected", 0),
                "connected": workers.get("connected", 0),
            },
            "progress": snapshot.progress().to_wire(),
            "message": snapshot.status.get("message", ""),
        }
        self._live_cloudwatch(body, snapshot, step)
        if snapshot.state == "error":
            detail = snapshot.status.get("message", "load generator error")
            self._error(body, step, run_id, f"{detail}; pods: {_describe_pods(pods)}")
        elif snapshot.finished:
            step.status["phase"] = Phase.EVALUATING.value
        elif snapshot.state != "waiting" and status.get("phase") != Phase.RUNNING.value:
            step.status["phase"] = Phase.RUNNING.value
            step.event("Normal", "Running", "all workers connected; load started")

    def _evaluate(self, body: dict[str, Any], step: Step) -> None:
        meta, status = body["metadata"], body["status"]
        name, namespace, run_id = meta["name"], meta["namespace"], status["runId"]
        pods = self.cluster.pods(namespace, name, run_id)
        master = next((p for p in pods if p.component == "master" and p.ip), None)
        if master is None:
            self._error(body, step, run_id, "the Locust master disappeared before its result")
            return
        try:
            window = MasterClient(f"http://{master.ip}:{WEB_PORT}").result()
        except MasterUnavailable as error:
            step.status = {"message": f"reading the result: {error}"}
            return
        if window is None:
            return
        spec = EndpointLoadTestSpec.model_validate(body["spec"])
        figures, conditions = None, []
        if cloudwatch.target_dimensions(spec) is not None and spec.cloudwatch.enabled:
            start, end = window.get("windowStart"), window.get("windowEnd")
            if start is None or end is None:  # the window bounds come with /elt/status
                state = MasterClient(f"http://{master.ip}:{WEB_PORT}").poll().status
                start, end = state.get("windowStart"), state.get("windowEnd")
            scrape, decision = cloudwatch.final_step(spec, float(start), float(end))
            if not decision.done or scrape is None:
                step.status = {"message": decision.message}
                return
            figures = scrape.figures
            conditions = [scrape.condition(meta.get("generation"))]
        results, verdict = evaluate(window, spec.thresholds, figures)
        final = completed_status(
            run_id=run_id,
            started_at=_parse_time(status.get("startedAt")),
            results=results,
            verdict=verdict,
            generation=meta.get("generation"),
            conditions=conditions,
        )
        step.status = _without_history(final.to_wire()) | {"progress": None}
        kind = "Normal" if verdict.result == "Passed" else "Warning"
        step.event(kind, str(verdict.result), verdict.message)

    def _live_cloudwatch(self, body: dict[str, Any], snapshot: Snapshot, step: Step) -> None:
        """While measuring: the endpoint's figures every period, into status.progress."""
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"])
        spec = EndpointLoadTestSpec.model_validate(body["spec"])
        start = snapshot.status.get("windowStart")
        if start is None or not cloudwatch.live_due(
            spec, self.cloudwatch_scraped_at.get(key), time.time()
        ):
            return
        self.cloudwatch_scraped_at[key] = time.time()
        scrape = cloudwatch.scrape_window(spec, float(start), time.time())
        if scrape.figures is not None:
            step.status["progress"]["cloudwatch"] = scrape.figures.to_wire()
        conditions = [
            c for c in (body.get("status") or {}).get("conditions") or []
            if c.get("type") != "CloudWatchAvailable"
        ]  # fmt: skip
        step.status["conditions"] = [
            *conditions,
            scrape.condition(meta.get("generation")).to_wire(),
        ]

    def forget(self, namespace: str, name: str) -> None:
        self.cloudwatch_scraped_at.pop((namespace, name), None)

    def _finished(self, body: dict[str, Any], step: Step) -> None:
        meta, status = body["metadata"], body["status"]
        namespace = meta["namespace"]
        for child in self.cluster.children(namespace, meta["name"]):
            if child.kind != "ConfigMap":
                self.cluster.delete(namespace, child)
        ttl = (body.get("spec") or {}).get("ttlSecondsAfterFinished")
        finished = _parse_time(status.get("finishedAt"))
        if ttl is not None and finished is not None and now() >= finished + timedelta(seconds=ttl):
            step.delete_test = True

    def _error(self, body: dict[str, Any], step: Step, run_id: str, message: str) -> None:
        status = body.get("status") or {}
        final = error_status(
            run_id=run_id,
            started_at=_parse_time(status.get("startedAt")) or now(),
            message=message,
            generation=body["metadata"].get("generation"),
        )
        step.status = {**step.status, **_without_history(final.to_wire()), "progress": None}
        step.event("Warning", "Error", message)


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
