"""The token stream's figures of the measurement window, and live ones for progress.

Each worker records the streamed requests it *started* in the measured phase (the
requests Locust counts under the measured request type), in the same 3-significant-digit
histograms as request latency (loadgen/latency.py), and sends them with its final flush;
the master sums them exactly (conductor.py) and computes the window's figures here.
Only successful requests carry figures; a failed stream is a failure, counted by Locust.

Live figures: every stats report a worker sends (Locust's report_to_master, every 3 s)
carries the histograms of what finished since the previous one; the master keeps the last
LIVE_SECONDS of them for progress, /metrics and the time series.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

from endpoint_loadtest.loadgen.latency import LatencyHistogram
from endpoint_loadtest.loadgen.phases import MEASURE
from endpoint_loadtest.loadgen.streaming.timing import StreamFigures

TTFT, TPOT, ITL, TOKENS_PER_SECOND = "ttft", "tpot", "itl", "tokensPerSecond"
KINDS = (TTFT, TPOT, ITL, TOKENS_PER_SECOND)
PERCENTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
LIVE_SECONDS = 10.0
REPORT_KEY = "elt_streaming"


def _summary(histogram: LatencyHistogram | None, total: float | None) -> dict[str, float | None]:
    if histogram is None or histogram.count == 0:
        return {}
    summary: dict[str, float | None] = {
        key: histogram.percentile(fraction) for key, fraction in PERCENTILES.items()
    }
    summary["max"] = max(histogram.counts) / 1000.0
    if total is not None:
        summary["mean"] = round(total / histogram.count, 3)
    return summary


class StreamWindow:
    """One worker's streamed-request figures of one scope (the window, or since a report)."""

    def __init__(self) -> None:
        self.histograms: dict[str, LatencyHistogram] = {k: LatencyHistogram() for k in KINDS}
        self.sums: dict[str, float] = dict.fromkeys(KINDS, 0.0)  # exact means
        self.requests = 0
        self.output_tokens = 0
        self.input_tokens = 0
        self.sources: Counter[str] = Counter()
        self.good = 0

    def add(self, figures: StreamFigures, good: bool) -> None:
        self.requests += 1
        self.output_tokens += figures.output_tokens
        self.input_tokens += figures.input_tokens or 0
        self.sources[figures.source] += 1
        if figures.input_tokens is not None:
            self.sources["withInputTokens"] += 1
        self.good += good
        self._record(TTFT, figures.ttft_ms)
        tpot = figures.tpot_ms
        if tpot is not None:
            self._record(TPOT, tpot)
        for gap in figures.itl_ms:
            self._record(ITL, gap)
        rate = figures.tokens_per_second
        if rate is not None:
            self._record(TOKENS_PER_SECOND, rate)

    def _record(self, kind: str, value: float) -> None:
        self.histograms[kind].record(value)
        self.sums[kind] += value

    def to_message(self) -> dict[str, Any]:
        return {
            "histograms": {k: h.to_message() for k, h in self.histograms.items() if h.count},
            "sums": self.sums,
            "requests": self.requests,
            "outputTokens": self.output_tokens,
            "inputTokens": self.input_tokens,
            "sources": dict(self.sources),
            "good": self.good,
        }

    def merge_message(self, message: dict[str, Any]) -> None:
        for kind, pairs in (message.get("histograms") or {}).items():
            self.histograms.setdefault(kind, LatencyHistogram()).merge(
                LatencyHistogram.from_message(pairs)
            )
        for kind, value in (message.get("sums") or {}).items():
            self.sums[kind] = self.sums.get(kind, 0.0) + float(value)
        self.requests += int(message.get("requests", 0))
        self.output_tokens += int(message.get("outputTokens", 0))
        self.input_tokens += int(message.get("inputTokens", 0))
        self.sources.update(message.get("sources") or {})
        self.good += int(message.get("good", 0))

    @property
    def source(self) -> str | None:
        kinds = [k for k in ("usage", "events") if self.sources.get(k)]
        if not kinds:
            return None
        return kinds[0] if len(kinds) == 1 else "mixed"


class WorkerStreaming:
    """A worker's recorder: the measured window, and what finished since the last report."""

    def __init__(self) -> None:
        self.window = StreamWindow()
        self.recent = StreamWindow()
        # per-request objectives for goodput (thresholds.streaming.slo), from the plan
        self.slo: dict[str, float] = {}
        # every successful stream of the run, ramp-up and warmup included
        self.run_requests = 0
        self.run_output_tokens = 0

    def is_good(self, figures: StreamFigures) -> bool:
        slo = self.slo
        if (limit := slo.get("ttftMs")) is not None and figures.ttft_ms > limit:
            return False
        tpot = figures.tpot_ms
        if (limit := slo.get("tpotMs")) is not None and tpot is not None and tpot > limit:
            return False
        return not ((limit := slo.get("latencyMs")) is not None and figures.latency_ms > limit)

    def record(self, phase: str, figures: StreamFigures) -> None:
        good = self.is_good(figures)
        self.run_requests += 1
        self.run_output_tokens += figures.output_tokens
        self.recent.add(figures, good)
        if phase == MEASURE:
            self.window.add(figures, good)

    def flush_message(self) -> dict[str, Any]:
        """What the worker sends with its final flush: the window, and the run's totals."""
        return {
            **self.window.to_message(),
            "runRequests": self.run_requests,
            "runOutputTokens": self.run_output_tokens,
        }

    def clear_window(self) -> None:
        """A capacity search's next step: a window of its own (the run's totals go on)."""
        self.window = StreamWindow()

    def take_recent(self) -> dict[str, Any]:
        recent, self.recent = self.recent, StreamWindow()
        return recent.to_message()


WORKER = WorkerStreaming()


def window_streaming(messages: Iterable[dict[str, Any]], window_seconds: float) -> dict[str, Any]:
    """The master's `streaming` result from the workers' flushed window messages."""
    merged = StreamWindow()
    run_tokens = 0
    for message in messages:
        merged.merge_message(message)
        run_tokens += int(message.get("runOutputTokens", 0))
    seconds = window_seconds if window_seconds > 0 else 0.0
    with_input = merged.sources.get("withInputTokens", 0)
    result: dict[str, Any] = {
        "requests": merged.requests,
        "ttftMs": _summary(merged.histograms.get(TTFT), merged.sums.get(TTFT)),
        "tpotMs": _summary(merged.histograms.get(TPOT), merged.sums.get(TPOT)),
        "itlMs": _summary(merged.histograms.get(ITL), merged.sums.get(ITL)),
        "outputTokens": merged.output_tokens,
        "outputTokensSource": merged.source,
        "totalOutputTokens": run_tokens,
        "outputTokensPerSecond": round(merged.output_tokens / seconds, 3) if seconds else 0.0,
        "requestOutputTokensPerSecond": _summary(
            merged.histograms.get(TOKENS_PER_SECOND), merged.sums.get(TOKENS_PER_SECOND)
        ),
        "goodRequests": merged.good,
        "goodput": round(merged.good / seconds, 3) if seconds else 0.0,
    }
    if with_input:
        result["inputTokens"] = merged.input_tokens
    return result


class LiveStreaming:
    """The master's last LIVE_SECONDS of workers' reports, for progress."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._reports: deque[tuple[float, dict[str, Any]]] = deque()
        self._started: float | None = None

    def add(self, message: dict[str, Any]) -> None:
        now = self._clock()
        if self._started is None:
            self._started = now
        self._reports.append((now, message))
        while self._reports and self._reports[0][0] < now - LIVE_SECONDS:
            self._reports.popleft()

    def figures(self) -> dict[str, float | None] | None:
        if self._started is None:
            return None
        now = self._clock()
        merged = StreamWindow()
        for at, message in self._reports:
            if at >= now - LIVE_SECONDS:
                merged.merge_message(message)
        span = min(LIVE_SECONDS, max(now - self._started, 1e-9))
        ttft, tpot = merged.histograms[TTFT], merged.histograms[TPOT]
        return {
            "ttftP50Ms": ttft.percentile(0.5),
            "ttftP99Ms": ttft.percentile(0.99),
            "tpotP50Ms": tpot.percentile(0.5),
            "tpotP99Ms": tpot.percentile(0.99),
            "outputTokensPerSecond": round(merged.output_tokens / span, 1),
        }


LIVE = LiveStreaming()


def register_live(environment: Any) -> None:
    """Workers attach what finished since their last report; the master keeps it (LIVE)."""

    def on_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        data[REPORT_KEY] = WORKER.take_recent()

    def on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        if (message := data.get(REPORT_KEY)) is not None:
            LIVE.add(message)

    environment.events.report_to_master.add_listener(on_report)
    environment.events.worker_report.add_listener(on_worker_report)
