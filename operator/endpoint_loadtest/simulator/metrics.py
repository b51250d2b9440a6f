"""The endpoint's CloudWatch metrics: per-period accumulation and publishing.

Each period (aligned to multiples of the period on the wall clock, so 60 s periods are
calendar minutes) yields, per variant, with dimensions EndpointName and VariantName:

AWS/SageMaker (only for periods with invocations):
  Invocations, InvocationsPerInstance, Invocation4XXErrors, Invocation5XXErrors,
  InvocationModelErrors (Count), ModelLatency, OverheadLatency (Microseconds).
/aws/sagemaker/Endpoints (every period): CPUUtilization, MemoryUtilization (Percent),
  one value per instance, so Average is the mean over instances and Maximum the hottest.

Format "statistics" (default) sends StatisticValues sets: cheap for moto, which stores
every value of a Values/Counts datum as its own object. Count metrics are sets of
per-request 0/1 samples, so Sum is the count and Average the rate, as on SageMaker.
Format "values" sends Values/Counts (latencies rounded to 3 significant digits, at most
150 distinct values per datum) so that real CloudWatch can compute percentiles.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from endpoint_loadtest.simulator.model import Endpoint

log = logging.getLogger("endpoint_loadtest.simulator.metrics")

NS_INVOCATIONS = "AWS/SageMaker"
NS_INSTANCES = "/aws/sagemaker/Endpoints"
MAX_VALUES_PER_DATUM = 150
DATUMS_PER_CALL = 20


@dataclass
class VariantPeriod:
    """What one variant did during the current period."""

    invocations: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    model_errors: int = 0
    model_latency_us: list[float] = field(default_factory=list)
    overhead_us: list[float] = field(default_factory=list)


@dataclass
class PeriodSnapshot:
    start: float  # wall clock, seconds
    end: float
    variants: dict[tuple[str, str], VariantPeriod]
    # Both empty for a period of late responses whose utilisation already went out (the
    # wall clock stepped back): its invocations still go out, with their own timestamp.
    cpu_percent: dict[tuple[str, str], list[float]]  # per instance, 0..vcpus*100
    memory_percent: dict[tuple[str, str], list[float]]


class MetricsCollector:
    """Accumulates invocations per period; close() hands over the periods that ended.

    A response counts in the period (by the wall clock) in which it is recorded, so its
    timestamp never depends on when the publish loop gets round to closing the period:
    a loop that starts, wakes or finishes publishing late still sends every request with
    its own period. Periods are kept by index (start = index x period_s)."""

    def __init__(
        self,
        endpoints: dict[str, Endpoint],
        period_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.endpoints = endpoints
        self.period_s = period_s
        self.clock = clock
        self.periods: dict[int, dict[tuple[str, str], VariantPeriod]] = {}
        # Never handed over: the truth a test compares a CloudWatch window's Sum against.
        self.recorded: Counter[tuple[str, int]] = Counter()
        self.cut = clock()  # wall clock of the last close: utilisation is measured from it

    def index(self, wall: float) -> int:
        """The index of the period holding the instant `wall`."""
        return math.floor(wall / self.period_s)

    def record(
        self,
        endpoint: str,
        variant: str,
        status: int,
        original_status: int | None,
        model_s: float | None,
        overhead_s: float,
    ) -> None:
        """Count one variant-routed response in the current period.

        4XX/5XX go by HTTP status, except ModelError (424), which goes by the status the
        model returned (a timeout, status 0, counts as 5XX) and also counts as a model error.
        """
        index = self.index(self.clock())
        variants = self.periods.setdefault(index, {})
        self.recorded[(endpoint, index)] += 1
        key = (endpoint, variant)
        period = variants.get(key)
        if period is None:
            period = variants[key] = VariantPeriod()
        period.invocations += 1
        effective = status
        if original_status is not None:
            period.model_errors += 1
            effective = original_status if original_status >= 400 else 500
        if 400 <= effective < 500:
            period.errors_4xx += 1
        elif effective >= 500:
            period.errors_5xx += 1
        if model_s is not None:
            period.model_latency_us.append(model_s * 1e6)
        period.overhead_us.append(overhead_s * 1e6)

    def forget_recorded(self) -> None:
        """Start the per-period truth afresh (POST /_simulator/reset); what is still to be
        published is kept, so CloudWatch loses nothing."""
        self.recorded.clear()

    def invocations_by_period(self) -> dict[str, dict[str, int]]:
        """Invocations per endpoint and period start (epoch seconds), since the last reset:
        what CloudWatch's Invocations Sum over any run of whole periods must equal."""
        out: dict[str, dict[str, int]] = {}
        for (endpoint, index), count in sorted(self.recorded.items()):
            start = index * self.period_s
            key = str(int(start)) if float(start).is_integer() else repr(start)
            out.setdefault(endpoint, {})[key] = count
        return out

    def close(self, loop_now: float, before: int | None = None) -> list[PeriodSnapshot]:
        """Close the periods whose index is below `before` (the wall clock has reached
        period `before`), or, with None (stopping), every period, the current partial one
        included; oldest first.

        Utilisation is measured over the time since the last close; every period that
        time touches gets that average (one period, unless the loop was held up or
        started after a boundary had passed since the collector was made)."""
        wall_now = self.clock()
        last = self.index(wall_now) if before is None else before - 1
        length = max(wall_now - self.cut, 1e-6)
        busy_periods = range(self.index(self.cut), last + 1)
        self.cut = wall_now
        cpu: dict[tuple[str, str], list[float]] = {}
        memory: dict[tuple[str, str], list[float]] = {}
        for endpoint in self.endpoints.values():
            for variant in endpoint.variants.values():
                key = (endpoint.name, variant.config.name)
                busy = [i.take_busy_seconds(loop_now) / length for i in variant.instances]
                cpu[key] = [b * 100.0 for b in busy]
                memory[key] = [
                    min(
                        100.0,
                        variant.config.memory_base_percent
                        + variant.config.memory_per_busy_worker_percent * b,
                    )
                    for b in busy
                ]
        closing = sorted(
            {i for i in self.periods if before is None or i < before} | set(busy_periods)
        )
        snapshots = []
        for index in closing:
            start = index * self.period_s
            end = wall_now if before is None and index == last else start + self.period_s
            measured = index in busy_periods
            snapshots.append(
                PeriodSnapshot(
                    start,
                    end,
                    self.periods.pop(index, {}),
                    cpu if measured else {},
                    memory if measured else {},
                )
            )
        return snapshots


def _stat_set(values: list[float]) -> dict[str, float]:
    return {
        "SampleCount": float(len(values)),
        "Sum": math.fsum(values),
        "Minimum": min(values),
        "Maximum": max(values),
    }


def _count_set(hits: int, total: int) -> dict[str, float]:
    """`total` per-request samples of which `hits` are 1 and the rest 0."""
    return {
        "SampleCount": float(total),
        "Sum": float(hits),
        "Minimum": 1.0 if hits == total else 0.0,
        "Maximum": 1.0 if hits else 0.0,
    }


def _round3(value: float) -> float:
    if value <= 0:
        return 0.0
    digits = 2 - math.floor(math.log10(value))
    return round(value, digits)


def _values_datums(base: dict[str, Any], values: list[float], exact: bool) -> list[dict]:
    counts = Counter(values if exact else (_round3(v) for v in values))
    items = sorted(counts.items())
    datums = []
    for i in range(0, len(items), MAX_VALUES_PER_DATUM):
        chunk = items[i : i + MAX_VALUES_PER_DATUM]
        datums.append(
            {**base, "Values": [v for v, _ in chunk], "Counts": [float(c) for _, c in chunk]}
        )
    return datums


def build_metric_data(
    snapshot: PeriodSnapshot, endpoints: dict[str, Endpoint], fmt: str = "statistics"
) -> dict[str, list[dict[str, Any]]]:
    """The PutMetricData MetricData lists, by namespace, for one closed period."""
    timestamp = dt.datetime.fromtimestamp(snapshot.start, tz=dt.UTC)
    out: dict[str, list[dict[str, Any]]] = {NS_INVOCATIONS: [], NS_INSTANCES: []}

    def add(ns: str, name: str, unit: str, dims: list, values: list[float], exact: bool) -> None:
        base = {"MetricName": name, "Dimensions": dims, "Timestamp": timestamp, "Unit": unit}
        if fmt == "values":
            out[ns].extend(_values_datums(base, values, exact))
        else:
            out[ns].append({**base, "StatisticValues": _stat_set(values)})

    def add_count(name: str, dims: list, hits: int, total: int, per: float = 1.0) -> None:
        base = {"MetricName": name, "Dimensions": dims, "Timestamp": timestamp, "Unit": "Count"}
        if fmt == "values":
            values, counts = [], []
            if hits:
                values.append(per)
                counts.append(float(hits))
            if total - hits:
                values.append(0.0)
                counts.append(float(total - hits))
            out[NS_INVOCATIONS].append({**base, "Values": values, "Counts": counts})
        else:
            stat = _count_set(hits, total)
            if per != 1.0:
                stat = {k: (v if k == "SampleCount" else v * per) for k, v in stat.items()}
            out[NS_INVOCATIONS].append({**base, "StatisticValues": stat})

    for endpoint in endpoints.values():
        for variant in endpoint.variants.values():
            key = (endpoint.name, variant.config.name)
            dims = [
                {"Name": "EndpointName", "Value": endpoint.name},
                {"Name": "VariantName", "Value": variant.config.name},
            ]
            period = snapshot.variants.get(key)
            if period and period.invocations:
                n = period.invocations
                add_count("Invocations", dims, n, n)
                add_count("InvocationsPerInstance", dims, n, n, per=1.0 / len(variant.instances))
                add_count("Invocation4XXErrors", dims, period.errors_4xx, n)
                add_count("Invocation5XXErrors", dims, period.errors_5xx, n)
                add_count("InvocationModelErrors", dims, period.model_errors, n)
                if period.model_latency_us:
                    add(
                        NS_INVOCATIONS,
                        "ModelLatency",
                        "Microseconds",
                        dims,
                        period.model_latency_us,
                        False,
                    )
                add(
                    NS_INVOCATIONS,
                    "OverheadLatency",
                    "Microseconds",
                    dims,
                    period.overhead_us,
                    False,
                )
            if key not in snapshot.cpu_percent:
                continue
            add(NS_INSTANCES, "CPUUtilization", "Percent", dims, snapshot.cpu_percent[key], True)
            add(
                NS_INSTANCES,
                "MemoryUtilization",
                "Percent",
                dims,
                snapshot.memory_percent[key],
                True,
            )
    return out


class CloudWatchPublisher:
    """PutMetricData through botocore's normal client; failures are logged, never raised."""

    def __init__(self, endpoint_url: str | None, region: str) -> None:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session()
        if session.get_credentials() is None:  # like moto: any key will do for a stand-in
            session = boto3.session.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing"
            )
        self.client = session.client(
            "cloudwatch",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 2}),
        )
        self.endpoint_url = self.client.meta.endpoint_url
        self.published_calls = 0
        self.failures = 0

    def publish(self, data: dict[str, list[dict[str, Any]]]) -> None:
        for namespace, datums in data.items():
            for i in range(0, len(datums), DATUMS_PER_CALL):
                try:
                    self.client.put_metric_data(
                        Namespace=namespace, MetricData=datums[i : i + DATUMS_PER_CALL]
                    )
                    self.published_calls += 1
                except Exception as exc:  # a stand-in being down must not stop the endpoint
                    self.failures += 1
                    log.warning("PutMetricData to %s failed: %s", self.endpoint_url, exc)


async def publish_loop(
    collector: MetricsCollector,
    publisher: CloudWatchPublisher | None,
    endpoints: dict[str, Endpoint],
    fmt: str,
    stop: asyncio.Event,
) -> None:
    """Close and publish the ended periods at each boundary; on stop, flush the rest
    (the partial current period included)."""
    loop = asyncio.get_running_loop()
    period = collector.period_s
    while True:
        boundary = collector.index(collector.clock()) + 1  # the next period's index
        # The loop's timers run on the monotonic clock: wait until the wall clock too has
        # reached the boundary, so that no later response is recorded in a closed period.
        while not stop.is_set() and (remaining := boundary * period - collector.clock()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=remaining)
        stopping = stop.is_set()
        snapshots = collector.close(loop.time(), None if stopping else boundary)
        if publisher is not None:
            for snapshot in snapshots:  # in order: oldest first
                data = build_metric_data(snapshot, endpoints, fmt)
                await loop.run_in_executor(None, publisher.publish, data)
        if stopping:
            return
