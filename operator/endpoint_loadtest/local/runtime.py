"""The local runtime: one Locust master and N workers as processes on this machine.

It carries out the engine's plan, observes the master until the conductor is
done (or the user presses Ctrl-C, which ends the window early and still writes
what was measured), saves Locust's reports, and stops every process it started.
The verdict is engine/final_status.py's; the `elt run` command around it (result.json,
report.html, the summary) is run_command.py's.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from endpoint_loadtest.api.models import EndpointLoadTest, EndpointLoadTestStatus, Phase
from endpoint_loadtest.engine import lifecycle as lc
from endpoint_loadtest.engine.final_status import final_status
from endpoint_loadtest.engine.observe import (
    MasterClient,
    MasterUnavailable,
    Snapshot,
    observe_result,
)
from endpoint_loadtest.engine.plan import Placement, build_plan
from endpoint_loadtest.engine.signing import new_token
from endpoint_loadtest.engine.status import now
from endpoint_loadtest.local.processes import ProcessGroup, free_port
from endpoint_loadtest.local.progress import ProgressReporter, step_line
from endpoint_loadtest.observability import cloudwatch as cw
from endpoint_loadtest.observability.exporter import EXPORTER

POLL_SECONDS = 1.0
START_TIMEOUT_SECONDS = 60.0  # no image to pull here; the other bounds: engine/lifecycle.py
HOST = "127.0.0.1"

REPORTS = {  # report.html is our own (endpoint_loadtest.report), written beside these
    "locust-report.html": "/stats/report?download=1&theme=light",
    "locust_stats.csv": "/stats/requests/csv",
    "locust_failures.csv": "/stats/failures/csv",
    "locust_exceptions.csv": "/exceptions/csv",
}


class RunError(Exception):
    """The run could not be carried out; the message says why."""


@dataclass
class LocalRun:
    test: EndpointLoadTest
    output: Path
    reporter: ProgressReporter
    run_id: str = ""
    export_metrics: bool = False  # feed the /metrics exporter (elt run --metrics-port)

    def __post_init__(self) -> None:
        self.run_id = self.run_id or uuid.uuid4().hex[:8]
        self.plan_dir = self.output / ".plan"
        self.started_at: datetime | None = None
        self.live_cloudwatch: cw.Scrape | None = None
        self.final_cloudwatch: cw.Scrape | None = None
        self.interrupted = False
        self.stop_sent = False
        self.last_note = ""
        self.steps_noted = 0  # a capacity search: steps already shown

    @property
    def cloudwatch_enabled(self) -> bool:
        spec = self.test.spec
        return spec.cloudwatch.enabled and spec.target.sagemaker is not None

    def export(self, status: dict, snapshot: Snapshot | None = None) -> None:
        """Hand the figures to the exporter (a no-op without --metrics-port)."""
        if self.export_metrics:
            EXPORTER.update(
                self.test.metadata.namespace or "default",
                self.test.metadata.name,
                {"runId": self.run_id, **status},
                snapshot=snapshot,
                spec=self.test.spec.to_wire(),
            )

    def execute(self) -> EndpointLoadTestStatus:
        self.output.mkdir(parents=True, exist_ok=True)
        self.plan_dir.mkdir(exist_ok=True)
        master_port, web_port = free_port(HOST), free_port(HOST)
        # The run's token: only this process and the master it starts know it (a file
        # only the user can read, removed when the run ends).
        token = new_token()
        token_path = self.plan_dir / "run-token"
        with contextlib.suppress(FileNotFoundError):
            token_path.unlink()
        fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token)
        placement = Placement(
            plan_dir=str(self.plan_dir.resolve()),
            master_host=HOST,
            master_bind_host=HOST,
            web_host=HOST,
            master_port=master_port,
            web_port=web_port,
            worker_connect_timeout_seconds=60.0,
            token_file=str(token_path.resolve()),
        )
        self.plan = build_plan(
            self.test.spec, name=self.test.metadata.name, run_id=self.run_id, placement=placement
        )
        for name, content in self.plan.files.items():
            (self.plan_dir / name).write_text(content)
        self.group = ProcessGroup(log_dir=self.output)
        self.client = MasterClient(f"http://{HOST}:{web_port}", token=token, run_id=self.run_id)
        self.started_at = now()
        deadlines = lc.deadlines_for(self.test.spec, start=START_TIMEOUT_SECONDS)
        state = lc.new_run(self.run_id, deadlines, time.time(), cloudwatch=self.cloudwatch_enabled)
        try:
            state, finish = self._drive(state)
            self._save_reports(self.client)
        finally:
            self.group.stop()
            token_path.unlink(missing_ok=True)
        return final_status(
            finish, state, self.test.spec, run_id=self.run_id, started_at=self.started_at,
            scrape=self.final_cloudwatch, scrape_window=cw.scrape_window,
        )  # fmt: skip

    def _drive(self, state: lc.RunState) -> tuple[lc.RunState, lc.Finish]:
        """Tick the lifecycle until it finishes; Ctrl-C closes the window early."""
        while True:
            try:
                decision = lc.tick(state, self._observe, time.time)
            except KeyboardInterrupt:
                self.interrupted = True
                self.reporter.note("interrupted: closing the measurement window early")
                continue
            state = decision.state
            for action in decision.actions:
                if isinstance(action, lc.Event) and action.kind == "Warning":
                    self.reporter.note(action.message)
                elif isinstance(action, lc.StopLoad) and not self.stop_sent:
                    self.client.request_stop()
                    self.stop_sent = True
            if (finish := decision.finish) is not None:
                return state, finish
            if state.message and state.message != self.last_note and state.phase == "Evaluating":
                self.reporter.note(state.message)
                self.last_note = state.message
            try:
                time.sleep(POLL_SECONDS)
            except KeyboardInterrupt:
                self.interrupted = True
                self.reporter.note("interrupted: closing the measurement window early")

    def _observe(self, state: lc.RunState, wanted: set[lc.Need]) -> lc.Observation:
        if lc.Need.CREATE in wanted:
            self.group.start("master", self.plan.master, ["--csv", str(self.output / "locust")])
            for index in range(self.plan.workers):
                self.group.start(f"worker-{index}", self.plan.worker)
            self.reporter.note(
                f"run {self.run_id}: {self.plan.workers} worker(s) against "
                f"{self.test.spec.target.describe()}, about {self.plan.planned_seconds:.0f}s "
                "of load"
            )
            return lc.Observation(created=True)
        found: dict[str, Any] = {"interrupted": self.interrupted}
        if lc.Need.MASTER in wanted:
            found.update(self._master(state))
        if lc.Need.RESULT in wanted and "master_gone" not in found:
            observe_result(self.client, found)
        if lc.Need.CLOUDWATCH in wanted:
            found.update(self._cloudwatch(state))
        return lc.Observation(**found)

    def _master(self, state: lc.RunState) -> dict[str, Any]:
        exited = self.group.exited()
        if "master" in exited:
            return {
                "master_gone": f"Locust master exited with code {exited['master']}; its log "
                f"ends with:\n{self.group.log_tail('master')}"
            }
        if exited and state.phase in ("Pending", "Starting"):
            name, code = sorted(exited.items())[0]
            message = f"Locust {name} exited with code {code}; its log ends with:\n"
            return {"refusal": lc.Refusal(message + self.group.log_tail(name), permanent=True)}
        identity = lc.MasterIdentity(uid=str(self.group.processes["master"].pid))
        try:
            snapshot = self.client.poll()
        except MasterUnavailable as error:
            return {"master": identity, "unanswered": str(error)}
        self.reporter.update(snapshot.progress(), _workers(snapshot))
        self._note_steps(snapshot)
        if self.export_metrics:
            self._export_live(snapshot)
        return {
            "master": identity,
            "conductor": snapshot.status,
            "measured": lc.Measured.from_poll(snapshot.status, snapshot.stats),
        }

    def _note_steps(self, snapshot: Snapshot) -> None:
        """A capacity search: one line per step as the master judges it (display only)."""
        steps = (snapshot.status.get("search") or {}).get("steps") or []
        for step in steps[self.steps_noted :]:
            self.reporter.note(step_line(step))
        self.steps_noted = max(self.steps_noted, len(steps))

    def _cloudwatch(self, state: lc.RunState) -> dict[str, Any]:
        """One step of the final scrape; the lifecycle waits its retry-after between steps."""
        if state.window is None:
            problem = cw.Problem("NoWindow", "the master reported no window times")
            self.final_cloudwatch = cw.Scrape(None, problem)
            return {"cloudwatch_done": True, "cloudwatch_message": problem.message}
        if self.interrupted:  # Ctrl-C while waiting: judge what Locust measured
            problem = cw.Problem("Interrupted", "the wait for CloudWatch was interrupted")
            self.final_cloudwatch = cw.Scrape(None, problem)
            return {"cloudwatch_done": True, "cloudwatch_message": problem.message}
        scrape, decision = cw.final_step(self.test.spec, *state.window)
        if not decision.done:
            self.export({"phase": Phase.EVALUATING.value, "message": decision.message})
        else:
            self.final_cloudwatch = scrape
            assert scrape is not None
            self.reporter.note(
                f"CloudWatch: {decision.message}"
                + (f"; {scrape.reason}" if scrape.reason else "")
                + f" ({scrape.seconds * 1000:.0f} ms per scrape)"
            )
        return lc.cloudwatch_step(decision.done, decision.retry_after, decision.message)

    def _live_cloudwatch(self, snapshot: Snapshot) -> None:
        """Scrape CloudWatch every period (at least 15 s apart) while the test runs."""
        last = self.live_cloudwatch
        if not cw.live_due(self.test.spec, last.scraped_at if last else None, time.time()):
            return
        start = snapshot.status.get("windowStart") or snapshot.status.get("startedAt")
        if not start:
            return
        self.live_cloudwatch = cw.scrape_window(self.test.spec, float(start), time.time())

    def _export_live(self, snapshot: Snapshot) -> None:
        self._live_cloudwatch(snapshot)
        progress = snapshot.progress()
        if self.live_cloudwatch is not None and self.live_cloudwatch.figures is not None:
            progress.cloudwatch = self.live_cloudwatch.figures
        workers = snapshot.status.get("workers") or {}
        status = {
            "phase": Phase.RUNNING.value,
            "workers": {k: workers.get(k, 0) for k in ("expected", "connected")},
            "progress": progress.to_wire(),
        }
        if self.live_cloudwatch is not None:
            status["conditions"] = [self.live_cloudwatch.condition().to_wire()]
        self.export(status, snapshot)

    def _save_reports(self, client: MasterClient) -> None:
        for filename, path in REPORTS.items():
            try:
                (self.output / filename).write_bytes(client.download(path))
            except MasterUnavailable as error:
                self.reporter.note(f"could not save {filename}: {error}")
        series = client.series.to_list()
        (self.output / "timeseries.json").write_text(json.dumps(series, indent=1))


def _workers(snapshot: Snapshot) -> tuple[int, int]:
    workers = snapshot.status.get("workers") or {}
    return workers.get("connected", 0), workers.get("expected", 0)
