"""The worker's side of the phase messages: switch phase, pace an open model's rate,
and flush the window's figures to the master once its requests have finished.

The master's side is the conductor (conductor.py), which sends these messages and
sums what the workers flush. The window's CPU figure is measured here, from this
process's CPU times, because Locust's own samples miss short windows.
"""

from __future__ import annotations

import time
from typing import Any

import gevent
import psutil
from locust.env import Environment

from endpoint_loadtest.loadgen import errors, latency, open_model, phases
from endpoint_loadtest.loadgen.streaming import window as streaming


class WindowCpu:
    """This process's CPU use over the measurement window, from its CPU times.

    Locust's own samples (psutil's cpu_percent every CPU_MONITOR_INTERVAL, sent with
    heartbeats) miss short windows entirely: the first sample is always 0.0 and the
    next comes seconds later. CPU time divided by wall time has no such blind spot.
    """

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._start: tuple[float, float] | None = None

    def _now(self) -> tuple[float, float]:
        times = self._process.cpu_times()
        return time.monotonic(), times.user + times.system

    def start(self) -> None:
        self._start = self._now()

    def percent(self) -> float | None:
        if self._start is None:
            return None
        (wall0, cpu0), (wall1, cpu1) = self._start, self._now()
        if wall1 - wall0 <= 0:
            return None
        return round(100.0 * (cpu1 - cpu0) / (wall1 - wall0), 1)


WINDOW_CPU = WindowCpu()


def on_worker_phase(environment: Environment, msg: Any, **_: Any) -> None:
    """Worker side: switch phase; at `done`, flush once in-flight requests finish.

    Open model: a message with `rate` sets this worker's arrival rate. A capacity search
    ends each step's window with `warmup` and `flush`: sending pauses, and the step's
    figures are flushed once every request in flight has finished (so the next step
    starts from an idle endpoint, not from the queue this one left)."""
    if "rate" in msg.data:
        open_model.on_rate(environment, msg.data["rate"], msg.data["maxInFlight"])
    phase = msg.data.get("phase")
    if phase is None:
        return
    phases.TRACKER.set(phase)
    if phase == phases.MEASURE:
        WINDOW_CPU.start()
    elif phase == phases.DONE:
        gevent.spawn(_flush_when_idle, environment, WINDOW_CPU.percent())
    elif msg.data.get("flush"):
        if open_model.PACER is not None:
            open_model.PACER.pause()
        gevent.spawn(_flush_when_idle, environment, WINDOW_CPU.percent(), step=True)


def _flush_when_idle(
    environment: Environment, cpu_percent: float | None = None, step: bool = False
) -> None:
    """Report the window once its requests finished (a search's step: then clear the
    window's figures for the next step)."""
    runner = environment.runner
    while phases.TRACKER.busy:
        gevent.sleep(0.01)
    runner._send_stats()
    message = {
        "phase": phases.DONE,
        "cpuPercent": cpu_percent,
        "openModel": open_model.flush_figures(),
        "latency": latency.WINDOW.to_message(),
        "latencyTotals": latency.WINDOW.totals_message(),
        "errorSamples": errors.SAMPLES.to_message(),
        "streaming": streaming.WORKER.flush_message(),
    }
    if step:
        _clear_window_figures()
    runner.send_message(phases.FLUSHED_MESSAGE, message)


def _clear_window_figures() -> None:
    """A new window starts from nothing (nothing is measured until the master says so)."""
    latency.WINDOW.histograms.clear()
    errors.SAMPLES.samples.clear()
    streaming.WORKER.clear_window()
    if open_model.PACER is not None:
        open_model.PACER.shortfall = open_model.Shortfall()
