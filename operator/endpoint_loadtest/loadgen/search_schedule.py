"""The master's capacity search: one exact window per step, the rate changed live.

Each step warms up at its rate (search.stepWarmup), opens a window (stepDuration),
closes it the way a single test's window closes (the workers stop counting requests
as measured, finish those in flight, flush, and confirm; sending pauses meanwhile, so
the next step starts from an idle endpoint rather than from the queue this step left),
is judged exactly as the engine judges it (engine/capacity.py), and the
search's rule (engine/search.py) picks the next rate. With CloudWatch each window
opens on a period boundary (the warmup lasts up to one period longer), so the
periods read for a step afterwards hold that step's load alone. Locust's statistics of
a judged step are kept under "<type> [step N]", so the next window starts from nothing and
Locust's own report shows every step.

The final result (/elt/result) carries every step's window figures; the runtime's
engine judges the search from it, so nothing rests on what was polled live.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from locust.stats import RequestStats, StatsError

from endpoint_loadtest.api.models import Thresholds
from endpoint_loadtest.engine import search as rule
from endpoint_loadtest.engine.capacity import judge_step
from endpoint_loadtest.loadgen import phases

if TYPE_CHECKING:
    from endpoint_loadtest.loadgen.conductor import Conductor

log = logging.getLogger("elt.search")


def archive_step(stats: RequestStats, base_request_type: str, index: int) -> None:
    """Move the measured entries and errors under the step's own request type."""
    for kind in (base_request_type, phases.service_type(base_request_type)):
        method = phases.request_type(kind, phases.MEASURE)
        label = f"{method} [step {index}]"
        for key, entry in list(stats.entries.items()):
            if entry.method == method:
                del stats.entries[key]
                entry.method = label
                stats.entries[(entry.name, label)] = entry
        for key, error in list(stats.errors.items()):
            if error.method == method:
                del stats.errors[key]
                error.method = label
                stats.errors[StatsError.create_key(label, error.name, error.error)] = error


class SearchSchedule:
    """Runs the search on a conductor (conductor.py), which owns the window mechanics."""

    def __init__(self, conductor: Conductor) -> None:
        self.conductor = conductor
        schedule = conductor.config.schedule
        plan = schedule.search or {}
        self.settings = rule.Settings(
            start_tps=float(plan["startTPS"]),
            max_tps=float(plan["maxTPS"]),
            precision=float(plan["precision"]),
            max_steps=int(plan["maxSteps"]),
        )
        self.thresholds = Thresholds.model_validate(plan.get("thresholds") or {})
        self.warmup = schedule.warmup_seconds
        self.align = float(plan.get("alignSeconds") or 0)
        self.duration = float(schedule.duration_seconds or 0)
        self.windows: list[dict[str, Any]] = []
        self.outcomes: list[rule.Outcome] = []
        self.stop: rule.Stop | None = None

    def run(self) -> None:
        conductor = self.conductor
        decision = rule.next_step(self.settings, [])
        while decision.offered_tps is not None:
            rate, index = decision.offered_tps, len(self.windows) + 1
            conductor._send_rate(rate)
            conductor.state = "warmup"
            conductor.message = f"step {index}: {rate:g} requests/s, warming up"
            self._publish(rate)
            conductor._sleep(self.warmup + self._to_boundary(time.time() + self.warmup))
            if conductor._stop_requested.is_set():
                break
            self._measure(index, rate)
            if conductor._stop_requested.is_set():
                break
            decision = rule.next_step(self.settings, self.outcomes)
        self.stop = decision.stop if not conductor.interrupted else rule.Stop.INTERRUPTED
        self._finish()

    def _to_boundary(self, at: float) -> float:
        """Seconds from `at` to the next CloudWatch period boundary (0 without CloudWatch)."""
        return (-at) % self.align if self.align else 0.0

    def _measure(self, index: int, rate: float) -> None:
        conductor = self.conductor
        self._clear()
        conductor.window_workers = {w.id for w in conductor.runner.clients.values()}
        start = time.time()
        if conductor.window_start is None:
            conductor.window_start = start
        conductor.runner.send_message(phases.PHASE_MESSAGE, {"phase": phases.MEASURE})
        conductor.state, conductor.message = "measuring", f"step {index}: {rate:g} requests/s"
        conductor._sleep(self.duration)
        end = time.time()
        conductor._drain({"phase": phases.WARMUP, "flush": True})
        window = conductor._window_figures(start, end)
        window.update(
            index=index,
            offeredTPS=rate,
            windowStart=start,
            windowEnd=end,
            interrupted=conductor.interrupted,
        )
        archive_step(conductor.runner.stats, conductor.base_request_type, index)
        _, _, step = judge_step(window, self.thresholds)
        self.windows.append(window)
        self.outcomes.append(
            rule.Outcome(rate, step.passed, conclusive=step.limited_by != "generator")
        )
        log.info("step %d at %g requests/s: %s", index, rate, step.message)
        self._publish(None, step.to_wire())

    def _clear(self) -> None:
        """The master's per-window figures, before a new window opens."""
        conductor = self.conductor
        conductor.flushed = set()
        conductor._all_flushed.clear()
        conductor.max_cpu = {}
        conductor.open_figures = {}
        conductor.latency_messages = {}
        conductor.latency_totals = {}
        conductor.error_samples = {}
        conductor.streaming_messages = {}

    def _publish(self, rate: float | None, step: dict[str, Any] | None = None) -> None:
        """Live view of the search in /elt/status (display only: never judged)."""
        status = self.conductor.search_status or {"steps": []}
        if rate is not None:
            status["step"], status["offeredTPS"] = len(self.windows) + 1, rate
        if step is not None:
            keys = ("index", "offeredTPS", "achievedTPS", "p99Ms", "errorRate", "passed")
            streamed = ("ttftP99Ms", "tpotP99Ms", "outputTokensPerSecond")
            status["steps"].append(
                {k: step.get(k) for k in keys}
                | {k: step[k] for k in streamed if step.get(k) is not None}
                | {"limitedBy": step.get("limitedBy")}
            )
        self.conductor.search_status = status

    def _finish(self) -> None:
        """Stop the load, wait for the last reports, and publish every step's figures."""
        conductor = self.conductor
        self._clear()
        conductor.window_workers = {w.id for w in conductor.runner.clients.values()}
        conductor.window_end = self.windows[-1]["windowEnd"] if self.windows else time.time()
        conductor._drain({"phase": phases.DONE})
        lost = sorted({n for w in self.windows for n in w.get("incompleteWorkers") or []})
        conductor.result = {
            "search": {"steps": self.windows, "stop": self.stop.value if self.stop else None},
            "totalRequests": conductor.runner.stats.total.num_requests,
            "windowStart": conductor.window_start,
            "windowEnd": conductor.window_end,
            "windowSeconds": sum(float(w["windowSeconds"]) for w in self.windows),
            "requests": sum(int(w["requests"]) for w in self.windows),
            "failures": sum(int(w["failures"]) for w in self.windows),
            "incompleteWorkers": lost,
            "interrupted": conductor.interrupted,
            "workers": len(conductor.window_workers),
        }
        conductor.state, conductor.message = "finished", "finished"
        conductor.runner.stop()
