"""The figures a tick writes into the status: live ones while the run goes on, the
final status once it ends.

Live: the workers, the progress, the time series and, at most once a CloudWatch period,
the endpoint's live CloudWatch figures. Final: the verdict on the master's window
(with the final CloudWatch scrape, and each step's window in a capacity search), or the
error; a final patch never touches the history of earlier runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from endpoint_loadtest.api.models import EndpointLoadTestSpec
from endpoint_loadtest.engine import lifecycle as lc
from endpoint_loadtest.engine import timeline
from endpoint_loadtest.engine.final_status import final_status
from endpoint_loadtest.engine.observe import Snapshot
from endpoint_loadtest.observability import cloudwatch


def add_live_figures(
    patch: dict[str, Any],
    snapshot: Snapshot,
    spec: EndpointLoadTestSpec,
    body: dict[str, Any],
    scraped_at: dict[tuple[str, str], float],
) -> None:
    """The master's last poll into `patch`; CloudWatch when `scraped_at` says it is due."""
    meta, status = body["metadata"], body.get("status") or {}
    workers = snapshot.status.get("workers") or {}
    patch["workers"] = {
        "expected": workers.get("expected", 0),
        "connected": workers.get("connected", 0),
    }
    progress = snapshot.progress()
    patch["progress"] = progress.to_wire()
    patch["series"] = timeline.add_point(
        status.get("series"), snapshot.at, progress, snapshot.status
    )
    key = (meta["namespace"], meta["name"])
    start = snapshot.status.get("windowStart")
    if start is None or not cloudwatch.live_due(spec, scraped_at.get(key), time.time()):
        return
    scraped_at[key] = time.time()
    scrape = cloudwatch.scrape_window(spec, float(start), time.time())
    if scrape.figures is not None:
        patch["progress"]["cloudwatch"] = scrape.figures.to_wire()
    conditions = [
        c for c in status.get("conditions") or [] if c.get("type") != "CloudWatchAvailable"
    ]
    patch["conditions"] = [*conditions, scrape.condition(meta.get("generation")).to_wire()]


def final_patch(
    finish: lc.Finish,
    state: lc.RunState,
    spec: EndpointLoadTestSpec,
    body: dict[str, Any],
    scrape: cloudwatch.Scrape | None,
    event: Callable[[str, str, str], None],
) -> dict[str, Any]:
    """The status patch that ends the run; a verdict is also emitted through `event`."""
    meta, status = body["metadata"], body.get("status") or {}
    final = final_status(
        finish, state, spec, run_id=status["runId"],
        started_at=parse_time(status.get("startedAt")), scrape=scrape,
        scrape_window=cloudwatch.scrape_window, generation=meta.get("generation"),
    )  # fmt: skip
    if final.verdict is not None:  # judged (a run that ended in Error has no verdict)
        kind = "Normal" if final.verdict.result == "Passed" else "Warning"
        event(kind, str(final.verdict.result), final.verdict.message)
    return {**without_history(final.to_wire()), "progress": None}


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def without_history(status: dict[str, Any]) -> dict[str, Any]:
    """A final status patch must not replace the history of earlier runs."""
    return {k: v for k, v in status.items() if k != "history"}
