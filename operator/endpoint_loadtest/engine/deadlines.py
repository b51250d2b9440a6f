"""Every bound of a run in one table, `Deadlines`, and its derivation from a spec.

Both runtimes take their deadlines from `deadlines_for`, so `elt run` and the operator
cannot drift apart; only the start and silence bounds are theirs to choose. The
lifecycle (lifecycle.py) checks the table on every `advance`.
"""

from __future__ import annotations

from dataclasses import dataclass

from endpoint_loadtest.api.models import EndpointLoadTestSpec
from endpoint_loadtest.engine.plan import planned_seconds

FLUSH_MARGIN_SECONDS = 15.0  # the conductor's wait for the workers' last reports


@dataclass(frozen=True)
class Deadlines:
    """Every bound of a run, in seconds. One table for both runtimes."""

    start: float = 180.0  # children created -> all workers connected (Pending, Starting)
    silence: float = 30.0  # the master not answering (Running, Evaluating)
    evaluating: float = 120.0  # load done -> the result (and CloudWatch's last period) judged
    overall: float = 0.0  # run created -> its end, whatever happens; 0: derived


def deadlines_for(
    spec: EndpointLoadTestSpec, *, start: float = 180.0, silence: float = 30.0
) -> Deadlines:
    """The table for one spec: start and silence from the runtime, the rest from the spec.

    Evaluating covers the workers' last reports and, with CloudWatch, the wait for the
    window's last period (period + lastPeriodTimeout) plus a scrape; the overall
    deadline is the planned time plus every other bound: no run outlives it. A capacity
    search plans every step (maxSteps x (stepWarmup + stepDuration)), each closing its
    window with a drain of its own, and reads CloudWatch once per step at the end.
    """
    drain = spec.load.request_timeout_seconds + FLUSH_MARGIN_SECONDS
    evaluating = drain + 60.0
    steps = spec.search.max_steps if spec.search is not None else 1
    if spec.cloudwatch.enabled and spec.target.sagemaker is not None:
        evaluating += float(spec.cloudwatch.period) + spec.cloudwatch.last_period_timeout_seconds
        evaluating += 10.0 * (steps - 1)  # one scrape of each further step's window
    overall = start + planned_seconds(spec) + steps * drain + evaluating + silence
    return Deadlines(start=start, silence=silence, evaluating=evaluating, overall=overall)
