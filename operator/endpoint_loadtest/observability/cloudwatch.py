"""The endpoint's CloudWatch metrics over a test window: the scrape entry points.

The figures for the verdict are read with ONE period covering the whole window
(start aligned down to the configured period), so percentiles are CloudWatch's own over
every request of the window, not an average of per-minute percentiles. Two probes at the
configured period tell whether the window's last period has been published yet
(Invocations; CPUUtilization only when no invocation was published at all):
CloudWatch publishes one-minute data with a delay, and `final_wait` decides, as a pure
function of times, whether to wait for it (up to `cloudwatch.lastPeriodTimeout`).

The standard statistics and the percentiles go in two requests of the same batch:
a service that cannot compute percentiles (moto) still yields the rest, and the
figures say which are missing. Billing is per metric requested, so the split costs nothing.
Nothing here ever fails a test: every problem becomes a `Problem` whose code and message
end up in the `CloudWatchAvailable` condition.

This module holds what callers use (`scrape_window`, `final_scrape`, `final_step`,
`live_due`, `Scrape`) and re-exports the parts, so `cloudwatch.X` names them all:

- `cloudwatch_periods`: period arithmetic and the end-of-test wait (`final_wait`);
- `cloudwatch_queries`: the metrics, statistics and GetMetricData queries;
- `cloudwatch_api`: the boto3 client, paged GetMetricData, errors as `Problem`s;
- `cloudwatch_figures`: the results parsed into `CloudWatchResults`.

The entry points call the parts through this module's names, so a test that patches
`cloudwatch.scrape_window` or `cloudwatch.cloudwatch_client` patches what they call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from endpoint_loadtest.api.models import (
    CloudWatchLatency,
    CloudWatchResults,
    Condition,
    EndpointLoadTestSpec,
)
from endpoint_loadtest.observability.cloudwatch_api import (
    ACCESS_DENIED,
    BAD_CREDENTIALS,
    THROTTLED,
    Problem,
    classify,
    cloudwatch_client,
    get_metric_data,
)
from endpoint_loadtest.observability.cloudwatch_figures import (
    MICROSECONDS_PER_MS,
    SATURATED_PERCENT,
    parse,
)
from endpoint_loadtest.observability.cloudwatch_periods import (
    HIGH_RESOLUTION_PERIODS,
    FinalWait,
    align_down,
    final_wait,
    last_period_due,
    last_period_start,
    summary_period,
    utc_stamp,
)
from endpoint_loadtest.observability.cloudwatch_queries import (
    DEFAULT_VARIANT,
    NS_INSTANCES,
    NS_INVOCATIONS,
    OPTIONAL_IDS,
    PERCENTILE_QUERIES,
    PROBE_QUERIES,
    STANDARD_QUERIES,
    build_queries,
    dimensions,
    target_dimensions,
)

__all__ = [
    "ACCESS_DENIED",
    "BAD_CREDENTIALS",
    "CONDITION_TYPE",
    "DEFAULT_VARIANT",
    "HIGH_RESOLUTION_PERIODS",
    "LIVE_MIN_INTERVAL_SECONDS",
    "MICROSECONDS_PER_MS",
    "NS_INSTANCES",
    "NS_INVOCATIONS",
    "OPTIONAL_IDS",
    "PERCENTILE_QUERIES",
    "PROBE_QUERIES",
    "SATURATED_PERCENT",
    "STANDARD_QUERIES",
    "THROTTLED",
    "CloudWatchLatency",
    "CloudWatchResults",
    "FinalWait",
    "Problem",
    "Scrape",
    "align_down",
    "build_queries",
    "classify",
    "cloudwatch_client",
    "dimensions",
    "final_scrape",
    "final_step",
    "final_wait",
    "get_metric_data",
    "last_period_due",
    "last_period_start",
    "live_due",
    "parse",
    "scrape_window",
    "summary_period",
    "target_dimensions",
    "utc_stamp",
]

CONDITION_TYPE = "CloudWatchAvailable"


@dataclass
class Scrape:
    """The outcome of one scrape: figures (None when nothing could be read) and the
    problem that kept some or all of them out (None when everything was read).

    Unpacks as `(figures, reason)`."""

    figures: CloudWatchResults | None
    problem: Problem | None = None
    scraped_at: float = field(default_factory=time.time)
    seconds: float = 0.0

    def __iter__(self):
        yield self.figures
        yield self.reason

    @property
    def reason(self) -> str | None:
        return self.problem.message if self.problem else None

    @property
    def complete(self) -> bool:
        return self.figures is not None and self.figures.complete

    @property
    def retryable(self) -> bool:
        """Worth trying again before giving up (throttling, no data yet, incomplete)."""
        if self.problem is not None and self.figures is None:
            return self.problem.retryable
        return not self.complete

    def condition(self, generation: int | None = None) -> Condition:
        """The CloudWatchAvailable condition for the resource's status."""
        at = datetime.now(UTC).replace(microsecond=0)
        if self.figures is None:
            assert self.problem is not None
            return Condition(
                type=CONDITION_TYPE,
                status="False",
                reason=self.problem.code,
                message=f"CloudWatch figures are missing: {self.problem.message}. "
                "The verdict rests on the Locust figures alone.",
                last_transition_time=at,
                observed_generation=generation,
            )
        notes = []
        if self.problem is not None:
            notes.append(self.problem.message)
        if not self.figures.complete:
            notes.append("the window's last period was not yet published")
        return Condition(
            type=CONDITION_TYPE,
            status="True",
            reason="Partial" if notes else "Scraped",
            message=(
                f"CloudWatch figures for {self.figures.endpoint_name}/"
                f"{self.figures.variant_name} from {utc_stamp(self.figures.start.timestamp())} "
                f"to {utc_stamp(self.figures.end.timestamp())}"
                + (": " + "; ".join(notes) if notes else "")
            ),
            last_transition_time=at,
            observed_generation=generation,
        )


def scrape_window(
    spec: EndpointLoadTestSpec,
    start: float,
    end: float,
    *,
    client: Any | None = None,
) -> Scrape:
    """The endpoint's CloudWatch figures from `start` to `end` (epoch seconds).

    Never raises for CloudWatch's sake: problems come back in `Scrape.problem`.
    Use `end = time.time()` while the test runs (live figures).
    """
    began = time.perf_counter()
    scrape = _scrape(spec, start, end, client)
    scrape.seconds = time.perf_counter() - began
    return scrape


def _scrape(spec: EndpointLoadTestSpec, start: float, end: float, client: Any | None) -> Scrape:
    target = target_dimensions(spec)
    if target is None:
        return Scrape(None, Problem("NotSageMaker", "the target is not a SageMaker endpoint"))
    endpoint, variant, region = target
    period = int(spec.cloudwatch.period)
    first = align_down(start, period)
    span = summary_period(max(end - first, 1e-3), period)
    last = first + span
    probe_end = last_period_due(end, period)
    try:
        client = client or cloudwatch_client(region)
        batch = build_queries(endpoint, variant, STANDARD_QUERIES, span) + build_queries(
            endpoint, variant, PROBE_QUERIES, period
        )
        data = get_metric_data(client, batch, first, max(last, probe_end))
    except Exception as error:  # CloudWatch must never fail a test
        return Scrape(None, classify(error))
    problem: Problem | None = None
    try:
        data.update(
            get_metric_data(
                client, build_queries(endpoint, variant, PERCENTILE_QUERIES, span), first, last
            )
        )
    except Exception as error:
        found = classify(error)
        problem = Problem(
            found.code, f"latency percentiles unavailable ({found.message})", found.retryable
        )
    forbidden = sorted(k for k, v in data.items() if v["status"] == "Forbidden")
    if forbidden and len(forbidden) == len(data):
        return Scrape(
            None,
            Problem(
                "AccessDenied",
                "CloudWatch answered Forbidden for every metric: the identity needs "
                "cloudwatch:GetMetricData",
            ),
        )
    figures = parse(
        data, endpoint, variant, first, last, period, end, spec.cloudwatch.instance_vcpus
    )
    if figures is None:
        return Scrape(
            None,
            Problem(
                "NoData",
                f"CloudWatch has no data for EndpointName={endpoint} VariantName={variant} "
                f"between {utc_stamp(first)} and {utc_stamp(last)} (namespaces {NS_INVOCATIONS}, "
                f"{NS_INSTANCES})",
                retryable=True,
            ),
        )
    if problem is None and figures.missing:
        problem = Problem("PartialData", "; ".join(figures.missing))
    return Scrape(figures, problem)


def final_scrape(
    spec: EndpointLoadTestSpec,
    start: float,
    end: float,
    *,
    client: Any | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    note: Callable[[str], None] | None = None,
) -> tuple[Scrape, FinalWait]:
    """The end-of-test scrape, blocking: wait for the window's last period (bounded by
    cloudwatch.lastPeriodTimeout), then return the last scrape and the decision that
    ended the wait (its message says whether the last period made it).

    For the local runtime; the operator calls `scrape_window` and `final_wait` per
    reconcile instead of blocking.
    """
    period = int(spec.cloudwatch.period)
    timeout = spec.cloudwatch.last_period_timeout_seconds
    waited_note = False
    while True:
        decision = final_wait(end, period, timeout, clock(), complete=False)
        if decision.done or clock() >= last_period_due(end, period):
            scrape = scrape_window(spec, start, end, client=client)
            decision = final_wait(end, period, timeout, clock(), scrape.complete)
            if decision.done or not scrape.retryable:
                return scrape, decision
        if note and not waited_note:
            note(decision.message)
            waited_note = True
        sleep(decision.retry_after)


LIVE_MIN_INTERVAL_SECONDS = 15.0


def live_due(spec: EndpointLoadTestSpec, last_scraped_at: float | None, now: float) -> bool:
    """While the test runs: scrape every period, at least 15 s apart."""
    if not spec.cloudwatch.enabled or spec.target.sagemaker is None:
        return False
    interval = max(float(spec.cloudwatch.period), LIVE_MIN_INTERVAL_SECONDS)
    return last_scraped_at is None or now - last_scraped_at >= interval


def final_step(
    spec: EndpointLoadTestSpec,
    start: float,
    end: float,
    *,
    now: float | None = None,
    client: Any | None = None,
) -> tuple[Scrape | None, FinalWait]:
    """One non-blocking step of the end-of-test scrape, for a reconcile loop.

    Returns (scrape, decision). While `decision.done` is False, come back after
    `decision.retry_after` seconds (the scrape, when there is one, holds the figures so
    far). Once done, judge with `scrape.figures` (None: Locust alone) and add
    `scrape.condition()`; the scrape is None only when not done."""
    now = time.time() if now is None else now
    period = int(spec.cloudwatch.period)
    timeout = spec.cloudwatch.last_period_timeout_seconds
    if now < last_period_due(end, period):
        return None, final_wait(end, period, timeout, now, complete=False)
    scrape = scrape_window(spec, start, end, client=client)
    decision = final_wait(end, period, timeout, now, scrape.complete)
    if not decision.done and not scrape.retryable:
        decision = FinalWait(True, 0.0, scrape.reason or decision.message)
    return scrape, decision
