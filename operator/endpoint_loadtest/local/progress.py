"""Progress while `elt run` runs, and the verdict table at the end.

On a terminal: one live panel, redrawn in place. Elsewhere (CI logs): one plain
line every few seconds, so a log shows the run's course without control codes.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from endpoint_loadtest.api.models import (
    Capacity,
    EndpointLoadTestStatus,
    Progress,
    Results,
    StreamingProgress,
    StreamingResults,
)

LINE_INTERVAL_SECONDS = 5.0


def _fmt(value: float | int | None, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}{unit}"


def _ms(value: float | None) -> str:
    """A latency to 3 significant digits (as measured: see loadgen/latency.py)."""
    if value is None:
        return "-"
    digits = 0 if value >= 100 else 1 if value >= 10 else 2
    return f"{value:.{digits}f} ms"


def _load(progress: Progress) -> tuple[str, str]:
    """What drives the load now: the arrival rate (open model) or the users (closed)."""
    if progress.target_tps is not None:
        return "target", f"{progress.target_tps:g}/s"
    return "users", _fmt(progress.users)


def progress_line(progress: Progress, workers: tuple[int, int]) -> str:
    load_label, load_value = _load(progress)
    return (
        f"[{_fmt(progress.elapsed_seconds, 's')}/{_fmt(progress.total_seconds, 's')}] "
        f"{progress.stage or '-'}: {load_label} {load_value}, "
        f"workers {workers[0]}/{workers[1]}, RPS {_fmt(progress.current_rps, digits=1)}, "
        f"p50 {_fmt(progress.current_p50_ms, ' ms')}, p99 {_fmt(progress.current_p99_ms, ' ms')}, "
        f"failures {_fmt(progress.failures)}, "
        f"worker CPU max {_fmt(progress.max_worker_cpu_percent, '%')}"
        + (f", {_streaming(progress.streaming)}" if progress.streaming else "")
    )


def _streaming(live: StreamingProgress) -> str:
    """TTFT and TPOT p50/p99 and output tokens/s of the last seconds."""
    return (
        f"TTFT p50/p99 {_ms(live.ttft_p50_ms)} / {_ms(live.ttft_p99_ms)}, "
        f"TPOT p50/p99 {_ms(live.tpot_p50_ms)} / {_ms(live.tpot_p99_ms)}, "
        f"output {_fmt(live.output_tokens_per_second, ' tokens/s', 1)}"
    )


class ProgressReporter:
    """Shows progress on a terminal (live) or as periodic lines; silent when quiet."""

    def __init__(self, title: str, stream: TextIO | None = None, quiet: bool = False):
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.title = title
        self.console = Console(file=self.stream)
        self.live: Live | None = None
        self._last_line = 0.0

    def __enter__(self) -> ProgressReporter:
        if not self.quiet and self.console.is_terminal:
            self.live = Live(console=self.console, refresh_per_second=4, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)
            self.live = None

    def note(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text, highlight=False, markup=False)

    def update(self, progress: Progress, workers: tuple[int, int]) -> None:
        if self.quiet:
            return
        if self.live is not None:
            self.live.update(self._panel(progress, workers))
        elif time.monotonic() - self._last_line >= LINE_INTERVAL_SECONDS:
            self._last_line = time.monotonic()
            print(progress_line(progress, workers), file=self.stream, flush=True)

    def _panel(self, progress: Progress, workers: tuple[int, int]) -> Table:
        table = Table(title=self.title, show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column()
        done = progress.elapsed_seconds or 0.0
        total = progress.total_seconds or 0.0
        bar_width = 30
        filled = int(bar_width * min(1.0, done / total)) if total else 0
        table.add_row("stage", progress.stage or "-")
        table.add_row(
            "elapsed", f"{'#' * filled}{'.' * (bar_width - filled)} {done:.0f}s/{total:.0f}s"
        )
        table.add_row(*_load(progress))
        table.add_row("workers", f"{workers[0]}/{workers[1]} connected")
        table.add_row("RPS", _fmt(progress.current_rps, digits=1))
        table.add_row(
            "p50 / p99",
            f"{_fmt(progress.current_p50_ms, ' ms')} / {_fmt(progress.current_p99_ms, ' ms')}",
        )
        table.add_row("failures", _fmt(progress.failures))
        table.add_row("worker CPU max", _fmt(progress.max_worker_cpu_percent, "%"))
        live = progress.streaming
        if live is not None:
            table.add_row("TTFT p50 / p99", f"{_ms(live.ttft_p50_ms)} / {_ms(live.ttft_p99_ms)}")
            table.add_row("TPOT p50 / p99", f"{_ms(live.tpot_p50_ms)} / {_ms(live.tpot_p99_ms)}")
            table.add_row("output tokens/s", _fmt(live.output_tokens_per_second, digits=1))
        return table


def render_verdict(status: EndpointLoadTestStatus, stream: TextIO | None = None) -> None:
    """The verdict as a table: one line per check, then the figures."""
    console = Console(file=stream or sys.stdout, soft_wrap=True)
    verdict = status.verdict
    if verdict is None:
        console.print(f"Error: {status.message}", markup=False, highlight=False)
        return
    table = Table(title=f"Verdict: {verdict.result}")
    for column in ("check", "threshold", "observed", "result"):
        table.add_column(column)
    for check in verdict.checks:
        table.add_row(
            check.name,
            "-" if check.threshold is None else f"{check.threshold:g}",
            "-" if check.observed is None else f"{check.observed:g}",
            "pass" if check.passed else "FAIL",
        )
    console.print(table)
    results = status.results
    if results is not None:
        lat = results.latency_ms
        console.print(
            f"{results.requests} requests in {results.window_seconds:.1f}s: "
            f"{results.tps:.1f} TPS, {results.success_tps:.1f} successful TPS, "
            f"{results.failures} failed ({results.error_rate:.2%}); successful calls: "
            f"p50 {_ms(lat.p50)}, p90 {_ms(lat.p90)}, p95 {_ms(lat.p95)}, p99 {_ms(lat.p99)}",
            markup=False,
            highlight=False,
        )
        failed = results.failure_latency_ms
        if failed is not None:
            console.print(
                f"failed calls: p50 {_ms(failed.p50)}, p99 {_ms(failed.p99)}",
                markup=False,
                highlight=False,
            )
        if results.errors_by_type:
            console.print(_errors_table(results), markup=False, highlight=False)
        if results.streaming is not None:
            console.print(streaming_summary(results.streaming), markup=False, highlight=False)
    console.print(verdict.message, markup=False, highlight=False)


def _errors_table(results: Results) -> Table:
    """Error types by count, each with one message the endpoint answered."""
    table = Table(title="Errors")
    for column in ("error", "count", "sample message"):
        table.add_column(column, overflow="fold")
    ranked = sorted(results.errors_by_type.items(), key=lambda item: (-item[1], item[0]))
    for name, count in ranked:
        sample = results.error_samples.get(name, "-")
        table.add_row(Text(name), str(count), Text(sample))  # Text: no markup in messages
    return table


def streaming_summary(figures: StreamingResults) -> str:
    """The window's token-stream figures in one line."""
    ttft, tpot = figures.ttft_ms, figures.tpot_ms
    goodput = "" if figures.good_requests is None else f", goodput {figures.goodput:g}/s"
    return (
        f"streamed: TTFT p50 {_ms(ttft.p50)}, p99 {_ms(ttft.p99)}; "
        f"TPOT p50 {_ms(tpot.p50)}, p99 {_ms(tpot.p99)}; "
        f"{figures.output_tokens} output tokens ({figures.output_tokens_source or '-'}), "
        f"{figures.output_tokens_per_second:.1f} tokens/s{goodput}"
    )


def step_line(step: dict) -> str:
    """One step of a capacity search as the master judged it (from /elt/status)."""
    p99 = step.get("p99Ms")
    verdict = "pass" if step.get("passed") else f"FAIL ({step.get('limitedBy')})"
    streamed = ""
    if step.get("ttftP99Ms") is not None:
        streamed = (
            f", TTFT p99 {_ms(step['ttftP99Ms'])}, TPOT p99 {_ms(step.get('tpotP99Ms'))}, "
            f"{step.get('outputTokensPerSecond') or 0:.1f} tokens/s"
        )
    return (
        f"step {step.get('index')}: {step.get('offeredTPS'):g} TPS offered, "
        f"{step.get('achievedTPS') or 0:.1f} achieved, p99 {_ms(p99)}{streamed}, "
        f"errors {step.get('errorRate') or 0:.2%}: {verdict}"
    )


def render_capacity(capacity: Capacity, stream: TextIO | None = None) -> None:
    """The search's steps as a table, then what it found and the recommendation."""
    console = Console(file=stream or sys.stdout, soft_wrap=True)
    table = Table(title="Capacity search")
    streamed = any(step.ttft_p99_ms is not None for step in capacity.steps)
    columns = ["step", "offered TPS", "achieved TPS", "p50", "p99"]
    columns += ["TTFT p99", "TPOT p99", "tokens/s"] if streamed else []
    for column in (*columns, "errors", "result"):
        table.add_column(column)
    for step in capacity.steps:
        figures = [_ms(step.p50_ms), _ms(step.p99_ms)]
        if streamed:
            tokens = step.output_tokens_per_second
            figures += [_ms(step.ttft_p99_ms), _ms(step.tpot_p99_ms)]
            figures.append("-" if tokens is None else f"{tokens:.1f}")
        table.add_row(
            str(step.index),
            f"{step.offered_tps:g}",
            f"{step.achieved_tps:.1f}",
            *figures,
            f"{step.error_rate:.2%}",
            "pass" if step.passed else f"FAIL ({step.limited_by})",
        )
    console.print(table)
    if capacity.max_tps is None:
        console.print("max TPS: none of the steps met the SLO", markup=False, highlight=False)
    else:
        console.print(
            f"max TPS: {'at least ' if capacity.at_least else ''}{capacity.max_tps:g} "
            f"({capacity.per_instance_tps:g} per instance on {capacity.instances})"
            + (
                f", {capacity.output_tokens_per_second:.1f} output tokens/s"
                if capacity.output_tokens_per_second is not None
                else ""
            )
            + (
                f"; limited by {capacity.limited_by}: {capacity.limit_detail}"
                if capacity.limited_by
                else ""
            ),
            markup=False,
            highlight=False,
        )
    advice = capacity.recommendation
    if advice is not None:
        console.print(
            f"for {advice.target_tps:g} TPS at {advice.target_utilization:.0%} utilization: "
            f"{advice.instances} instance(s); SageMakerVariantInvocationsPerInstance target "
            f"{advice.invocations_per_instance_target:g} (safety factor {advice.safety_factor:g})",
            markup=False,
            highlight=False,
        )
