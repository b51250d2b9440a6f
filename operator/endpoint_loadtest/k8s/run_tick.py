"""One tick of a started run: observe what the lifecycle asks, then turn its decision
into a status patch (`Step`).

The observations come from the API server and the master pod: creating the children
(children.py), finding the master (master_pod.py) and polling it at its pod's own
address with the run's token, the final CloudWatch scrape. The patch carries the
lifecycle's state and, from status_figures.py, the live figures or the final status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from endpoint_loadtest.api.models import EndpointLoadTestSpec
from endpoint_loadtest.engine import lifecycle as lc
from endpoint_loadtest.engine.observe import (
    MasterClient,
    MasterUnavailable,
    Snapshot,
    observe_result,
)
from endpoint_loadtest.engine.plan import WEB_PORT
from endpoint_loadtest.k8s.children import create_children
from endpoint_loadtest.k8s.cluster import TRANSIENT_ERRORS, ApiRefused, api_refusal
from endpoint_loadtest.k8s.master_pod import find_master
from endpoint_loadtest.k8s.status_figures import add_live_figures, final_patch, parse_time
from endpoint_loadtest.observability import cloudwatch

if TYPE_CHECKING:
    from endpoint_loadtest.k8s.reconcile import Reconciler

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


class RunTick:
    """One tick of a started run: the lifecycle's observations, then its actions."""

    def __init__(self, reconciler: Reconciler, body: dict[str, Any], step: Step) -> None:
        self.r = reconciler
        self.body = body
        self.step = step
        self.meta = body["metadata"]
        self.status = body.get("status") or {}
        self.run_id = self.status["runId"]
        self.spec = EndpointLoadTestSpec.model_validate(body["spec"])
        self.master_ip: str | None = None
        self.scrape: cloudwatch.Scrape | None = None

    def state(self) -> lc.RunState:
        wire = self.status.get("lifecycle")
        fallback = self.r.deadlines(self.spec)
        if wire:
            return lc.RunState.from_wire(self.status["phase"], wire, fallback)
        started = parse_time(self.status.get("startedAt"))
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
            add_live_figures(
                patch, self.step.snapshot, self.spec, self.body, self.r.cloudwatch_scraped_at
            )
        finish = decision.finish
        if finish is not None:
            patch.update(
                final_patch(finish, state, self.spec, self.body, self.scrape, self.step.event)
            )
        self.step.status = patch
        self.step.live_only = _live_only(self.status, patch)

    # ------------------------------------------------------------------ observing

    def observe(self, state: lc.RunState, wanted: set[lc.Need]) -> lc.Observation:
        try:
            if lc.Need.CREATE in wanted:
                return create_children(self.r, self.body, self.run_id, self.spec)
            found: dict[str, Any] = {}
            if lc.Need.MASTER in wanted:
                found.update(self._master(state))
            if lc.Need.RESULT in wanted and self.master_ip:
                observe_result(self._client(), found)
            if lc.Need.CLOUDWATCH in wanted:
                found.update(self._cloudwatch(state))
            return lc.Observation(**found)
        except ApiRefused as refused:
            return lc.Observation(refusal=lc.Refusal(str(refused), refused.permanent))
        except TRANSIENT_ERRORS as error:
            refused = api_refusal(error)
            return lc.Observation(refusal=lc.Refusal(str(refused), refused.permanent))

    def _master(self, state: lc.RunState) -> dict[str, Any]:
        """The master: the live pod of this run's master Deployment, and one poll of it."""
        found, master = find_master(self.r.cluster, self.meta, self.run_id, state.master)
        if master is None:
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
        return lc.cloudwatch_step(decision.done, decision.retry_after, decision.message)

    def _client(self) -> MasterClient:
        """The master at its pod's own address (not the Service, which publishes only the
        workers' port), with the run's token."""
        url = f"http://{self.master_ip}:{WEB_PORT}"
        return self.r.master_client(url, self.r.run_token(self.meta, self.run_id), self.run_id)


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
