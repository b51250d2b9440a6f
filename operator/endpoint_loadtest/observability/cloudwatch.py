"""The endpoint's CloudWatch metrics over a test window: one batched GetMetricData.

What is read (dimensions EndpointName and VariantName, the target's variant or
AllTraffic):

- `AWS/SageMaker`: ModelLatency and OverheadLatency (Average; p50, p90, p99 as
  extended statistics; microseconds, converted here), Invocations,
  InvocationsPerInstance, Invocation4XXErrors, Invocation5XXErrors (Sum);
- `/aws/sagemaker/Endpoints`: CPUUtilization (Maximum = hottest instance, Average),
  MemoryUtilization, GPUUtilization, GPUMemoryUtilization (Maximum).

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

The client is boto3's `cloudwatch` in the target's region with the identity of the
process (the pod's ServiceAccount, IRSA on EKS); `AWS_ENDPOINT_URL_CLOUDWATCH` points it
elsewhere. Nothing here ever fails a test: every problem becomes a `Problem` whose
code and message end up in the `CloudWatchAvailable` condition.
"""

from __future__ import annotations

import math
import os
import re
import threading
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

NS_INVOCATIONS = "AWS/SageMaker"
NS_INSTANCES = "/aws/sagemaker/Endpoints"
DEFAULT_VARIANT = "AllTraffic"
CONDITION_TYPE = "CloudWatchAvailable"
SATURATED_PERCENT = 90.0
# Periods GetMetricData accepts: 1, 5, 10, 30 (high resolution) or a multiple of 60.
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)
MICROSECONDS_PER_MS = 1000.0

# (query id, namespace, metric, statistic, what it feeds)
STANDARD_QUERIES: tuple[tuple[str, str, str, str], ...] = (
    ("model_latency_avg", NS_INVOCATIONS, "ModelLatency", "Average"),
    ("overhead_latency_avg", NS_INVOCATIONS, "OverheadLatency", "Average"),
    ("invocations", NS_INVOCATIONS, "Invocations", "Sum"),
    ("invocations_per_instance", NS_INVOCATIONS, "InvocationsPerInstance", "Sum"),
    ("errors_4xx", NS_INVOCATIONS, "Invocation4XXErrors", "Sum"),
    ("errors_5xx", NS_INVOCATIONS, "Invocation5XXErrors", "Sum"),
    ("cpu_max", NS_INSTANCES, "CPUUtilization", "Maximum"),
    ("cpu_avg", NS_INSTANCES, "CPUUtilization", "Average"),
    ("memory_max", NS_INSTANCES, "MemoryUtilization", "Maximum"),
    ("gpu_max", NS_INSTANCES, "GPUUtilization", "Maximum"),
    ("gpu_memory_max", NS_INSTANCES, "GPUMemoryUtilization", "Maximum"),
)
PERCENTILE_QUERIES: tuple[tuple[str, str, str, str], ...] = tuple(
    (f"{prefix}_{stat}", NS_INVOCATIONS, metric, stat)
    for prefix, metric in (
        ("model_latency", "ModelLatency"),
        ("overhead_latency", "OverheadLatency"),
    )
    for stat in ("p50", "p90", "p99")
)
# At the configured period: has the window's last period been published?
PROBE_QUERIES: tuple[tuple[str, str, str, str], ...] = (
    ("probe_invocations", NS_INVOCATIONS, "Invocations", "SampleCount"),
    ("probe_cpu", NS_INSTANCES, "CPUUtilization", "SampleCount"),
)
# Figures GPU-less endpoints never have: their absence is not worth a note.
OPTIONAL_IDS = {"gpu_max", "gpu_memory_max"}

ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
THROTTLED = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests"}
BAD_CREDENTIALS = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
}


# --------------------------------------------------------------------------- times


def align_down(at: float, period: int) -> float:
    return math.floor(at / period) * period


def summary_period(span: float, period: int) -> int:
    """The smallest period GetMetricData accepts that is >= span and a multiple of period."""
    steps = max(1, math.ceil(round(span, 6) / period))
    candidate = steps * period
    while True:
        if candidate in HIGH_RESOLUTION_PERIODS or candidate % 60 == 0:
            return candidate
        candidate += period


def last_period_start(end: float, period: int) -> float:
    """Start of the period holding the window's last instant."""
    return align_down(max(end - 1e-6, 0.0), period)


def last_period_due(end: float, period: int) -> float:
    """When the window's last period closes; CloudWatch cannot have it before."""
    return last_period_start(end, period) + period


@dataclass(frozen=True)
class FinalWait:
    """Whether to judge now, or to wait `retry_after` seconds for the last period."""

    done: bool
    retry_after: float
    message: str


def final_wait(end: float, period: int, timeout: float, now: float, complete: bool) -> FinalWait:
    """The end-of-test decision, a pure function of times.

    `complete` says whether the last scrape already holds the window's last period.
    Before that period closes: wait for it. After: poll every quarter period (1-15 s)
    until it appears or `timeout` seconds after it closed.
    """
    due = last_period_due(end, period)
    deadline = due + timeout
    stamp = _iso(last_period_start(end, period))
    if complete:
        return FinalWait(True, 0.0, f"CloudWatch has published the window's last period ({stamp})")
    if now >= deadline:
        return FinalWait(
            True,
            0.0,
            f"CloudWatch had not published the period starting {stamp} "
            f"{timeout:.0f}s after it ended; the figures leave it out",
        )
    poll = min(max(period / 4.0, 1.0), 15.0)
    retry = due - now if now < due else min(poll, deadline - now)
    return FinalWait(
        False,
        max(retry, 0.0),
        f"waiting up to {max(deadline - now, 0):.0f}s for CloudWatch to publish the "
        f"window's last period ({stamp})",
    )


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- queries


def dimensions(endpoint: str, variant: str) -> list[dict[str, str]]:
    return [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]


def build_queries(
    endpoint: str,
    variant: str,
    specs: tuple[tuple[str, str, str, str], ...],
    period: int,
) -> list[dict[str, Any]]:
    dims = dimensions(endpoint, variant)
    return [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
                "Period": period,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for query_id, namespace, metric, stat in specs
    ]


@dataclass(frozen=True)
class Problem:
    """Why CloudWatch figures are missing: a CamelCase code and a sentence."""

    code: str
    message: str
    retryable: bool = False


def classify(error: BaseException) -> Problem:
    """A boto3/botocore exception as a Problem (never raised further)."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ReadTimeoutError,
    )

    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code") or "ClientError")
        text = str(info.get("Message") or error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        embedded = re.search(r"<Code>([^<]+)</Code>(?:.*?<Message>([^<]*)</Message>)?", text, re.S)
        if embedded and (code.isdigit() or code == "ClientError"):
            # A query-protocol (XML) error body where botocore expected JSON: a stand-in
            # or proxy answering in the older format. The code is in the XML.
            code, text = embedded.group(1), embedded.group(2) or text
        if code.isdigit() and status == 403:
            code = "AccessDenied"
        text = _brief(text)
        if code in ACCESS_DENIED:
            return Problem(
                "AccessDenied",
                "CloudWatch denied GetMetricData: the identity this runs with (the pod's "
                f"ServiceAccount role) needs cloudwatch:GetMetricData ({code}: {text})",
            )
        if code in THROTTLED:
            return Problem(
                "Throttled", f"CloudWatch throttled GetMetricData ({code}: {text})", True
            )
        if code in BAD_CREDENTIALS:
            return Problem("InvalidCredentials", f"CloudWatch rejected the credentials ({code})")
        return Problem("CloudWatchError", f"GetMetricData failed ({code}: {text})", status >= 500)
    if isinstance(error, NoCredentialsError):
        return Problem("NoCredentials", "no AWS credentials to call CloudWatch with")
    if isinstance(error, NoRegionError):
        return Problem("NoRegion", "no AWS region for CloudWatch")
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return Problem("Unreachable", f"CloudWatch did not answer ({error})", True)
    return Problem("CloudWatchError", f"{type(error).__name__}: {error}", True)


def _brief(text: str, limit: int = 200) -> str:
    """An error message fit for a condition: no markup, one line, bounded."""
    plain = " ".join(re.sub(r"<[^>]+>", " ", text).split())
    return plain if len(plain) <= limit else plain[: limit - 3] + "..."


# --------------------------------------------------------------------------- clients

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()
_session: Any = None


def _shared_session() -> Any:
    """The process's one boto3 Session (caller holds _clients_lock): its credential chain
    and loaded service models are shared by every region's client, not built per region."""
    global _session
    if _session is None:
        import boto3

        _session = boto3.session.Session()
    return _session


def cloudwatch_client(region: str) -> Any:
    """A cached boto3 CloudWatch client: the process's identity, the standard endpoint
    variables (AWS_ENDPOINT_URL_CLOUDWATCH), three attempts with standard back-off.
    One client per region and endpoint, all from one Session."""
    key = "|".join(
        [
            region,
            os.environ.get("AWS_ENDPOINT_URL_CLOUDWATCH", ""),
            os.environ.get("AWS_ENDPOINT_URL", ""),
        ]
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            from botocore.config import Config

            client = _shared_session().client(
                "cloudwatch",
                region_name=region,
                config=Config(
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=5,
                    read_timeout=15,
                ),
            )
            _clients[key] = client
        return client


def get_metric_data(
    client: Any, queries: list[dict[str, Any]], start: float, end: float
) -> dict[str, dict[str, Any]]:
    """Every page of one GetMetricData, by query id: {"timestamps", "values", "status"}."""
    out: dict[str, dict[str, Any]] = {}
    request: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": datetime.fromtimestamp(start, tz=UTC),
        "EndTime": datetime.fromtimestamp(end, tz=UTC),
        "ScanBy": "TimestampAscending",
    }
    while True:
        response = client.get_metric_data(**request)
        for entry in response.get("MetricDataResults", []):
            slot = out.setdefault(
                entry["Id"], {"timestamps": [], "values": [], "status": "Complete"}
            )
            slot["timestamps"].extend(entry.get("Timestamps", []))
            slot["values"].extend(entry.get("Values", []))
            if entry.get("StatusCode", "Complete") != "PartialData":
                slot["status"] = entry.get("StatusCode", "Complete")
        token = response.get("NextToken")
        if not token:
            return out
        request["NextToken"] = token


# --------------------------------------------------------------------------- scrape


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
                f"{self.figures.variant_name} from {_iso(self.figures.start.timestamp())} "
                f"to {_iso(self.figures.end.timestamp())}"
                + (": " + "; ".join(notes) if notes else "")
            ),
            last_transition_time=at,
            observed_generation=generation,
        )


def target_dimensions(spec: EndpointLoadTestSpec) -> tuple[str, str, str] | None:
    """(endpoint, variant, region) of a SageMaker target, else None."""
    sagemaker = spec.target.sagemaker
    if sagemaker is None:
        return None
    return sagemaker.endpoint_name, sagemaker.variant_name or DEFAULT_VARIANT, sagemaker.region


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
                f"between {_iso(first)} and {_iso(last)} (namespaces {NS_INVOCATIONS}, "
                f"{NS_INSTANCES})",
                retryable=True,
            ),
        )
    if problem is None and figures.missing:
        problem = Problem("PartialData", "; ".join(figures.missing))
    return Scrape(figures, problem)


def _first(data: dict[str, dict[str, Any]], query_id: str) -> float | None:
    values = data.get(query_id, {}).get("values") or []
    return float(values[0]) if values else None


def _us_to_ms(value: float | None) -> float | None:
    return None if value is None else round(value / MICROSECONDS_PER_MS, 3)


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def parse(
    data: dict[str, dict[str, Any]],
    endpoint: str,
    variant: str,
    first: float,
    last: float,
    period: int,
    end: float,
    instance_vcpus: int | None,
) -> CloudWatchResults | None:
    """GetMetricData results (by query id) as CloudWatchResults; None if there is nothing."""
    summary_ids = [q[0] for q in STANDARD_QUERIES + PERCENTILE_QUERIES]
    if not any(data.get(i, {}).get("values") for i in summary_ids):
        return None
    last_start = last_period_start(end, period)

    def has_last(probe: str) -> bool | None:
        stamps = data.get(probe, {}).get("timestamps", [])
        return any(ts.timestamp() >= last_start - 1e-3 for ts in stamps) if stamps else None

    # The load ran until the window's end, so its last period has invocations: wait for
    # those (SageMaker publishes the two namespaces separately; the utilization of a
    # period may arrive before its invocations). Only a window without any invocation
    # data (everything throttled) falls back on the utilization probe.
    invocations_seen = has_last("probe_invocations")
    complete = bool(invocations_seen if invocations_seen is not None else has_last("probe_cpu"))
    invocations = _first(data, "invocations")
    errors_5xx = _first(data, "errors_5xx")
    cpu_max = _first(data, "cpu_max")
    instance_cpu = (
        round(cpu_max / instance_vcpus, 2) if cpu_max is not None and instance_vcpus else None
    )
    missing = []
    for query_id, _, metric, stat in STANDARD_QUERIES + PERCENTILE_QUERIES:
        entry = data.get(query_id)
        if query_id in OPTIONAL_IDS or (entry is not None and entry["values"]):
            continue
        why = "forbidden" if entry and entry["status"] == "Forbidden" else "no data"
        if entry is None:
            why = "not returned"
        missing.append(f"{metric} {stat}: {why}")
    return CloudWatchResults(
        endpoint_name=endpoint,
        variant_name=variant,
        start=datetime.fromtimestamp(first, tz=UTC),
        end=datetime.fromtimestamp(last, tz=UTC),
        period_seconds=period,
        complete=complete,
        model_latency_ms=CloudWatchLatency(
            average=_us_to_ms(_first(data, "model_latency_avg")),
            p50=_us_to_ms(_first(data, "model_latency_p50")),
            p90=_us_to_ms(_first(data, "model_latency_p90")),
            p99=_us_to_ms(_first(data, "model_latency_p99")),
        ),
        overhead_latency_ms=CloudWatchLatency(
            average=_us_to_ms(_first(data, "overhead_latency_avg")),
            p50=_us_to_ms(_first(data, "overhead_latency_p50")),
            p90=_us_to_ms(_first(data, "overhead_latency_p90")),
            p99=_us_to_ms(_first(data, "overhead_latency_p99")),
        ),
        invocations=invocations,
        invocations_per_instance=_round(_first(data, "invocations_per_instance")),
        invocation_4xx_errors=_first(data, "errors_4xx"),
        invocation_5xx_errors=errors_5xx,
        error_5xx_rate=(
            round(errors_5xx / invocations, 6)
            if errors_5xx is not None and invocations
            else (0.0 if invocations else None)
        ),
        cpu_utilization_percent=_round(cpu_max, 2),
        cpu_utilization_average_percent=_round(_first(data, "cpu_avg"), 2),
        instance_cpu_percent=instance_cpu,
        saturated=None if instance_cpu is None else instance_cpu > SATURATED_PERCENT,
        memory_utilization_percent=_round(_first(data, "memory_max"), 2),
        gpu_utilization_percent=_round(_first(data, "gpu_max"), 2),
        gpu_memory_utilization_percent=_round(_first(data, "gpu_memory_max"), 2),
        missing=missing,
    )


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
