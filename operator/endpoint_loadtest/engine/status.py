"""The final status of a run, the same for result.json and the resource's status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from endpoint_loadtest.api.models import (
    CloudWatchResults,
    Condition,
    EndpointLoadTestStatus,
    Phase,
    Results,
    Thresholds,
    Verdict,
    VerdictResult,
)
from endpoint_loadtest.api.search_models import Capacity
from endpoint_loadtest.engine.judge import judge
from endpoint_loadtest.engine.results import results_from_window


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def verdict_conditions(verdict: Verdict, generation: int | None = None) -> list[Condition]:
    """Completed and Passed, so `kubectl wait --for=condition=...` works on either."""
    at = now()
    return [
        Condition(
            type="Completed",
            status="True",
            reason=str(verdict.result),
            message=verdict.message,
            last_transition_time=at,
            observed_generation=generation,
        ),
        Condition(
            type="Passed",
            status="True" if verdict.result == VerdictResult.PASSED else "False",
            reason=str(verdict.result),
            message=verdict.message,
            last_transition_time=at,
            observed_generation=generation,
        ),
    ]


def evaluate(
    window: dict[str, Any],
    thresholds: Thresholds,
    cloudwatch: CloudWatchResults | None = None,
) -> tuple[Results, Verdict]:
    """Results and verdict of a finished window, as the master reported it.

    `cloudwatch`: the endpoint's figures over the window (observability.cloudwatch), or
    None when disabled or unavailable: then the verdict rests on the Locust figures."""
    results = results_from_window(window)
    results.cloudwatch = cloudwatch
    verdict = judge(results, thresholds, list(window.get("incompleteWorkers") or []))
    if window.get("interrupted") and verdict.result != VerdictResult.INCONCLUSIVE:
        verdict = Verdict(
            result=VerdictResult.INCONCLUSIVE,
            checks=verdict.checks,
            message="Inconclusive: the run was stopped before the end of its window "
            f"({results.window_seconds:.0f}s measured).",
        )
    return results, verdict


def completed_status(
    *,
    run_id: str,
    started_at: datetime | None,
    results: Results,
    verdict: Verdict,
    generation: int | None = None,
    conditions: list[Condition] | None = None,
    reason: str | None = None,
    capacity: Capacity | None = None,
) -> EndpointLoadTestStatus:
    """`conditions`: more conditions beside Completed and Passed (CloudWatchAvailable);
    `reason`: why it ended when that is more than the verdict (WorkerLost); `capacity`:
    a capacity search's answer."""
    return EndpointLoadTestStatus(
        phase=Phase.COMPLETED,
        run_id=run_id,
        reason=reason or str(verdict.result),
        message=verdict.message,
        started_at=started_at,
        finished_at=now(),
        results=results,
        verdict=verdict,
        capacity=capacity,
        conditions=verdict_conditions(verdict, generation) + list(conditions or []),
        observed_generation=generation,
    )


def error_status(
    *,
    run_id: str,
    started_at: datetime | None,
    message: str,
    generation: int | None = None,
    reason: str = "Error",
) -> EndpointLoadTestStatus:
    """`reason`: why (MasterRestarted, Refused, StartTimeout...), in the status and conditions."""
    at = now()
    return EndpointLoadTestStatus(
        phase=Phase.ERROR,
        run_id=run_id,
        reason=reason,
        message=message,
        started_at=started_at,
        finished_at=at,
        # Completed is True for errors too: the run has ended, so a gate waiting on
        # `kubectl wait --for=condition=Completed` returns instead of timing out.
        conditions=[
            Condition(
                type=kind,
                status=value,
                reason=reason,
                message=message,
                last_transition_time=at,
                observed_generation=generation,
            )
            for kind, value in (("Completed", "True"), ("Passed", "False"))
        ],
        observed_generation=generation,
    )
