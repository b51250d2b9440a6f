"""The measurement window's latencies, kept to 3 significant digits.

Locust keeps response times rounded to whole milliseconds below 100 ms (10 ms up to
1 s, 100 ms above): a 20.4 ms median reports as 20 and a 20.6 ms one as 21, an error of
up to 2.5% at that scale before anything else is measured. The window's percentiles
come from this histogram instead: microseconds rounded to 3 significant digits, so
every value is within 0.5% of the time measured, at any scale.

Each worker records the requests it *started* in the measured phase (the same
requests Locust counts under the measured request type) and sends its histograms with
its final flush; the master sums them (conductor.py, window_stats.py). Successful and
failed calls go to separate histograms (LATENCY/SERVICE of successes, FAILURE): a fast
error must not improve the percentiles of the answers. Each histogram also
keeps the exact sum and maximum of what it recorded, so the mean and the max stay
exact too.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from itertools import zip_longest

from endpoint_loadtest.loadgen.phases import MEASURE

LATENCY, SERVICE = "latency", "service"  # from the (intended) start; from the actual send
FAILURE = "failure"  # from the (intended) start, of failed calls


def bucket_us(ms: float) -> int:
    """`ms` in microseconds, rounded to 3 significant digits (exact below 1 ms)."""
    us = ms * 1000.0
    if us < 1000.0:
        return max(round(us), 0)
    scale = 10 ** (len(str(int(us))) - 3)  # one rounding, from the measured value
    return round(us / scale) * scale


class LatencyHistogram:
    """Counts per rounded value; mergeable, with nearest-rank percentiles."""

    def __init__(self, counts: Counter[int] | None = None) -> None:
        self.counts: Counter[int] = counts if counts is not None else Counter()
        # Exact sum and maximum of the recorded values (None: not known, e.g. a message
        # without totals); the mean and max come from these, not from rounded buckets.
        self.total_ms: float | None = 0.0 if counts is None else None
        self.max_ms: float | None = None

    def record(self, ms: float) -> None:
        self.counts[bucket_us(ms)] += 1
        if self.total_ms is not None:
            self.total_ms += ms
        self.max_ms = ms if self.max_ms is None else max(self.max_ms, ms)

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def merge(self, other: LatencyHistogram) -> None:
        self.counts.update(other.counts)
        if self.total_ms is None or other.total_ms is None:
            self.total_ms = None
        else:
            self.total_ms += other.total_ms
        if other.max_ms is not None:
            self.max_ms = other.max_ms if self.max_ms is None else max(self.max_ms, other.max_ms)

    def totals_message(self) -> list[float | None]:
        """[sum ms, max ms]: the exact figures the buckets round."""
        return [self.total_ms, self.max_ms]

    def percentile(self, fraction: float) -> float | None:
        """The ceil(fraction x n)-th smallest value in ms (None when empty)."""
        total = self.count
        if total == 0:
            return None
        rank = max(1, math.ceil(fraction * total))
        seen = 0
        for value in sorted(self.counts):
            seen += self.counts[value]
            if seen >= rank:
                return value / 1000.0
        raise AssertionError("unreachable: rank <= total")

    def to_message(self) -> list[list[int]]:
        """[[microseconds, count], ...]: msgpack-safe (no integer map keys)."""
        return [[value, count] for value, count in sorted(self.counts.items())]

    @classmethod
    def from_message(cls, pairs: Iterable[Iterable[int]]) -> LatencyHistogram:
        counts: Counter[int] = Counter()
        for value, count in pairs:
            counts[int(value)] += int(count)
        return cls(counts)


class WindowLatency:
    """One worker's histograms of the measured phase, by kind (LATENCY, SERVICE)."""

    def __init__(self) -> None:
        self.histograms: dict[str, LatencyHistogram] = {}

    def record(self, phase: str, kind: str, ms: float) -> None:
        if phase != MEASURE:
            return
        histogram = self.histograms.get(kind)
        if histogram is None:
            histogram = self.histograms[kind] = LatencyHistogram()
        histogram.record(ms)

    def record_call(
        self, phase: str, failed: bool, latency_ms: float, service_ms: float | None = None
    ) -> None:
        """One call: its latency in the success or the failure histogram; the service
        time (open model) of successes only, like serviceLatencyMs."""
        self.record(phase, FAILURE if failed else LATENCY, latency_ms)
        if service_ms is not None and not failed:
            self.record(phase, SERVICE, service_ms)

    def to_message(self) -> dict[str, list[list[int]]]:
        return {kind: h.to_message() for kind, h in self.histograms.items()}

    def totals_message(self) -> dict[str, list[float | None]]:
        """{kind: [sum ms, max ms]}, sent beside to_message in the final flush."""
        return {kind: h.totals_message() for kind, h in self.histograms.items()}


def merge_messages(
    messages: Iterable[dict[str, list[list[int]]]],
    totals: Iterable[dict[str, list[float | None]]] | None = None,
) -> dict[str, LatencyHistogram]:
    """The master's sum of the workers' flushed histograms, by kind.

    `totals`: the same workers' totals messages; the merged exact sum is known only when
    every worker sent it (otherwise the mean comes from elsewhere, see window_stats)."""
    merged: dict[str, LatencyHistogram] = {}
    for message, sums in zip_longest(list(messages), list(totals or ()), fillvalue=None):
        for kind, pairs in (message or {}).items():
            histogram = LatencyHistogram.from_message(pairs)
            total, peak = ((sums or {}).get(kind) or [None, None])[:2]
            histogram.total_ms = None if total is None else float(total)
            histogram.max_ms = None if peak is None else float(peak)
            if kind in merged:
                merged[kind].merge(histogram)
            else:
                merged[kind] = histogram
    return merged


WINDOW = WindowLatency()
