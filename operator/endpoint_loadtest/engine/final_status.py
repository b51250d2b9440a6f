"""A finished run's final status, from the lifecycle's `Finish`: one for both runtimes.

A run that ended in Error keeps its reason and message. Otherwise the master's window
(with the window times the lifecycle saw, should the result lack them) is judged with
the final CloudWatch scrape, when there is one, and, in a capacity search, with each
step's own CloudWatch window. The engine reads no CloudWatch itself: the runtime hands
it the final scrape and the function that scrapes a window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from endpoint_loadtest.api.models import EndpointLoadTestSpec, EndpointLoadTestStatus
from endpoint_loadtest.engine.capacity import evaluate_run, step_windows
from endpoint_loadtest.engine.run_messages import Finish
from endpoint_loadtest.engine.run_state import Reason, RunState
from endpoint_loadtest.engine.status import completed_status, error_status

if TYPE_CHECKING:
    from endpoint_loadtest.observability.cloudwatch import Scrape


def final_status(
    finish: Finish,
    state: RunState,
    spec: EndpointLoadTestSpec,
    *,
    run_id: str,
    started_at: datetime | None,
    scrape: Scrape | None,
    scrape_window: Callable[[EndpointLoadTestSpec, float, float], Scrape],
    generation: int | None = None,
) -> EndpointLoadTestStatus:
    """The verdict on the run (or its error); `generation`: the object's, in a cluster."""
    if finish.error or finish.result is None:
        return error_status(
            run_id=run_id, started_at=started_at, message=finish.message,
            generation=generation, reason=finish.reason.value,
        )  # fmt: skip
    window = dict(finish.result)
    if state.window is not None:
        window.setdefault("windowStart", state.window[0])
        window.setdefault("windowEnd", state.window[1])
    figures, conditions, per_step = None, [], None
    if scrape is not None:
        figures = scrape.figures
        conditions = [scrape.condition(generation)]
        if figures is not None and spec.search is not None:  # each step's window
            per_step = [
                scrape_window(spec, start, end).figures
                for start, end in step_windows(window, spec.cloudwatch.period)
            ]
    results, verdict, capacity = evaluate_run(window, spec, figures, per_step)
    reason = finish.reason.value if finish.reason == Reason.WORKER_LOST else None
    return completed_status(
        run_id=run_id, started_at=started_at, results=results, verdict=verdict,
        generation=generation, conditions=conditions, reason=reason, capacity=capacity,
    )  # fmt: skip
