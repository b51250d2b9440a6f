"""The master's conductor: starts the run, opens and closes the measurement window.

It runs inside the Locust master (not headless: the master keeps serving its web
API after the run so that whoever observes it can read the final figures). It
waits for the expected workers, drives the users through the schedule, announces
the phases to the workers, waits for every worker to flush its last statistics,
computes the window's result, and stops the users. Its state is served at
/elt/status and the result at /elt/result. The workers' side of the phase messages
is worker_phase.py's.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import gevent
from gevent.event import Event
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner

from endpoint_loadtest.loadgen import latency, open_model, phases
from endpoint_loadtest.loadgen.config import LoadgenConfig
from endpoint_loadtest.loadgen.streaming import window as streaming
from endpoint_loadtest.loadgen.window_stats import window_result
from endpoint_loadtest.loadgen.worker_phase import (  # the locustfiles import it from here
    on_worker_phase as on_worker_phase,
)

log = logging.getLogger("elt.conductor")

# States, in order. `error` can follow any of them.
WAITING, RAMP_UP, WARMUP, MEASURING, DRAINING, FINISHED, ERROR = (
    "waiting",
    "rampUp",
    "warmup",
    "measuring",
    "draining",
    "finished",
    "error",
)
FLUSH_MARGIN_SECONDS = 15.0
POLL_SECONDS = 0.1


class Conductor:
    def __init__(self, environment: Environment, config: LoadgenConfig, base_request_type: str):
        self.environment = environment
        self.config = config
        self.base_request_type = base_request_type
        self.state = WAITING
        # Who answers: a restarted master (new process) has a new id, so an observer
        # never takes a run that started again from the beginning for the same run.
        self.conductor_id = uuid.uuid4().hex[:12]
        self.message = f"waiting for {config.schedule.expect_workers} worker(s) to connect"
        self.started_at: float | None = None
        self.window_start: float | None = None
        self.window_end: float | None = None
        self.result: dict[str, Any] | None = None
        self.max_cpu: dict[str, float] = {}
        self.window_workers: set[str] = set()
        self.flushed: set[str] = set()
        self.open_figures: dict[str, dict[str, int]] = {}  # open model: per worker
        self.latency_messages: dict[str, dict[str, list[list[int]]]] = {}  # per worker
        self.latency_totals: dict[str, dict[str, list[float | None]]] = {}  # per worker
        self.error_samples: dict[str, str] = {}  # failure name -> first worker's sample
        self.streaming_messages: dict[str, dict[str, Any]] = {}  # streamed targets: per worker
        self.target_tps: float | None = None  # open model: the rate being sent now
        self.search_status: dict[str, Any] | None = None  # a capacity search: its steps so far
        self._spawned = Event()
        self._all_flushed = Event()
        self._stop_requested = Event()
        self.interrupted = False
        environment.events.spawning_complete.add_listener(lambda **_: self._spawned.set())
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            runner.register_message(phases.FLUSHED_MESSAGE, self._on_flushed)

    # ------------------------------------------------------------------ status

    @property
    def runner(self) -> MasterRunner:
        return self.environment.runner  # type: ignore[return-value]

    def planned_seconds(self) -> float:
        schedule = self.config.schedule
        if schedule.search is not None:  # every step run: the most it can take
            steps = int(schedule.search["maxSteps"])
            return steps * (schedule.warmup_seconds + (schedule.duration_seconds or 0))
        if schedule.staged:
            return sum(s.duration_seconds for s in schedule.stages)
        stage = schedule.stages[0]
        ramp = 0.0 if schedule.open_model else stage.users / stage.spawn_rate
        return ramp + schedule.warmup_seconds + (schedule.duration_seconds or 0)

    def status(self) -> dict[str, Any]:
        now = time.time()
        workers = [
            {"id": w.id, "state": w.state, "users": w.user_count, "cpu": w.cpu_usage}
            for w in self.runner.clients.values()
        ]
        return {
            "state": self.state,
            "message": self.message,
            "runId": self.config.run_id,
            "conductorId": self.conductor_id,
            "workers": {
                "expected": self.config.schedule.expect_workers,
                "connected": len(self.runner.clients.ready)
                + len(self.runner.clients.spawning)
                + len(self.runner.clients.running),
                "list": workers,
            },
            "users": self.runner.user_count,
            "targetTPS": self.target_tps,
            "startedAt": self.started_at,
            "windowStart": self.window_start,
            "windowEnd": self.window_end,
            "elapsedSeconds": (now - self.started_at) if self.started_at else 0.0,
            "plannedSeconds": self.planned_seconds(),
            "maxWorkerCpuPercent": max(self.max_cpu.values(), default=None),
            "masterCpuPercent": self.runner.current_cpu_usage,
            "streaming": streaming.LIVE.figures(),
            **({"search": self.search_status} if self.search_status is not None else {}),
        }

    # ------------------------------------------------------------------ the run

    def run(self) -> None:
        try:
            if not self._wait_for_workers():
                return
            self.started_at = time.time()
            gevent.spawn(self._sample_cpu)
            if self.config.schedule.search is not None:
                from endpoint_loadtest.loadgen.search_schedule import SearchSchedule

                SearchSchedule(self).run()
                return
            if self.config.schedule.staged:
                self._run_stages()
            else:
                self._run_steady()
            self._close_window()
        except Exception as error:  # the observer must learn why, not find a dead master
            log.exception("conductor failed")
            self._fail(f"load generator error: {error}")

    def _fail(self, message: str) -> None:
        self.state = ERROR
        self.message = message
        log.error(message)
        if self.runner.state not in ("ready", "stopped"):
            self.runner.stop()

    def _wait_for_workers(self) -> bool:
        schedule = self.config.schedule
        deadline = time.monotonic() + schedule.worker_connect_timeout_seconds
        while len(self.runner.clients.ready) < schedule.expect_workers:
            if self._stop_requested.is_set():
                self._fail("stopped before the workers connected")
                return False
            if time.monotonic() > deadline:
                connected = len(self.runner.clients.ready)
                self._fail(
                    f"only {connected} of {schedule.expect_workers} worker(s) connected within "
                    f"{schedule.worker_connect_timeout_seconds:.0f}s"
                )
                return False
            gevent.sleep(POLL_SECONDS)
        return True

    def _send_rate(self, target_tps: float) -> None:
        """Open model: every worker paces its share of the target rate."""
        self.target_tps = target_tps
        workers = max(1, len(self.runner.clients.values()))
        cap = open_model.worker_cap(self.config.schedule.max_in_flight or 1, workers)
        self.runner.send_message(
            phases.PHASE_MESSAGE, {"rate": target_tps / workers, "maxInFlight": cap}
        )

    def _run_steady(self) -> None:
        schedule = self.config.schedule
        stage = schedule.stages[0]
        if stage.target_tps is not None:  # open model: no ramp-up
            self.state, self.message = WARMUP, f"{stage.target_tps:g} requests/s"
            self._send_rate(stage.target_tps)
            if schedule.warmup_seconds > 0:
                self._sleep(schedule.warmup_seconds)
            self._open_window()
            self._sleep(schedule.duration_seconds or 0)
            return
        self.state, self.message = RAMP_UP, f"ramping up to {stage.users} users"
        self._spawned.clear()
        gevent.spawn(self.runner.start, stage.users, stage.spawn_rate)
        ramp_bound = stage.users / stage.spawn_rate + 60
        if not self._spawned.wait(timeout=ramp_bound):
            raise RuntimeError(f"users were not all spawned within {ramp_bound:.0f}s")
        if schedule.warmup_seconds > 0:
            self.state, self.message = WARMUP, f"warming up for {schedule.warmup_seconds:g}s"
            self._sleep(schedule.warmup_seconds)
        self._open_window()
        self._sleep(schedule.duration_seconds or 0)

    def _run_stages(self) -> None:
        schedule = self.config.schedule
        self.state, self.message = WARMUP, "running stages"
        opener = gevent.spawn_later(schedule.warmup_seconds, self._open_window)
        for number, stage in enumerate(schedule.stages, start=1):
            if stage.target_tps is not None:
                self.message = f"stage {number}/{len(schedule.stages)}: {stage.target_tps:g}/s"
                self._send_rate(stage.target_tps)
            else:
                self.message = f"stage {number}/{len(schedule.stages)}: {stage.users} users"
                gevent.spawn(self.runner.start, stage.users, stage.spawn_rate)
            self._sleep(stage.duration_seconds)
        if self.window_start is None:  # stopped early, before the window opened
            opener.kill()
            self._open_window()

    def _sleep(self, seconds: float) -> None:
        """Sleep, unless a stop was requested (then return at once, and stay awake)."""
        if not self._stop_requested.is_set():
            self._stop_requested.wait(timeout=seconds)

    def request_stop(self) -> None:
        """End the run now (Ctrl-C, deletion): close the window with what was measured."""
        self.interrupted = True
        self._stop_requested.set()
        self._spawned.set()

    def _open_window(self) -> None:
        self.window_workers = {w.id for w in self.runner.clients.values()}
        self.window_start = time.time()
        self.runner.send_message(phases.PHASE_MESSAGE, {"phase": phases.MEASURE})
        self.state, self.message = MEASURING, "measuring"
        log.info("measurement window opened")

    def _close_window(self) -> None:
        self.window_end = time.time()
        self._drain({"phase": phases.DONE})
        self.result = self._window_figures(self.window_start or self.window_end, self.window_end)
        self.state, self.message = FINISHED, "finished"
        self.runner.stop()

    def _drain(self, phase_message: dict[str, Any]) -> None:
        """End a window: announce it, then wait for every worker's final reports."""
        self.runner.send_message(phases.PHASE_MESSAGE, phase_message)
        self.state, self.message = DRAINING, "waiting for in-flight requests and final reports"
        log.info("measurement window closed; waiting for workers to flush")
        bound = self.config.schedule.request_timeout_seconds + FLUSH_MARGIN_SECONDS
        deadline = time.monotonic() + bound
        # A worker that quit or stopped sending heartbeats will never flush: not waited for.
        while self._missing_flushes() - self._lost_workers() and time.monotonic() < deadline:
            self._all_flushed.wait(timeout=POLL_SECONDS)
        if self._missing_flushes():
            missing = ", ".join(sorted(self._missing_flushes()))
            log.warning("workers did not flush (lost, or not within %.0fs): %s", bound, missing)

    def _window_figures(self, start: float, end: float) -> dict[str, Any]:
        """The window's result from the workers' flushed figures and Locust's statistics."""
        nodes = sorted(self.latency_messages)
        result = window_result(
            self.runner.stats,
            self.base_request_type,
            latency.merge_messages(
                [self.latency_messages[n] for n in nodes],
                [self.latency_totals.get(n) or {} for n in nodes],
            ),
            self.error_samples,
        )
        result["windowSeconds"] = end - start
        result["maxWorkerCpuPercent"] = max(self.max_cpu.values(), default=None)
        result["workerCpuPercent"] = dict(self.max_cpu)
        result["incompleteWorkers"] = sorted(self._missing_flushes())
        result["workers"] = len(self.window_workers)
        result["interrupted"] = self.interrupted
        if self.config.schedule.open_model:
            result.update(open_model.window_totals(self.open_figures.values()))
        if self.config.target.get("stream") is not None:
            result["streaming"] = streaming.window_streaming(
                self.streaming_messages.values(), result["windowSeconds"]
            )
        return result

    # ------------------------------------------------------------------ messages

    def _missing_flushes(self) -> set[str]:
        return self.window_workers - self.flushed

    def _lost_workers(self) -> set[str]:
        """Workers of the window that quit (gone from the master) or are missing."""
        present = {w.id for w in self.runner.clients.values() if w.state != STATE_MISSING}
        return self.window_workers - present

    def _on_flushed(self, environment: Environment, msg: Any, **_: Any) -> None:
        cpu = (msg.data or {}).get("cpuPercent")
        if cpu is not None:  # the worker's own average over the window: exact, even if short
            self.max_cpu[msg.node_id] = max(self.max_cpu.get(msg.node_id, 0.0), float(cpu))
        if (figures := (msg.data or {}).get("openModel")) is not None:
            self.open_figures[msg.node_id] = figures
        if (histograms := (msg.data or {}).get("latency")) is not None:
            self.latency_messages[msg.node_id] = histograms
            self.latency_totals[msg.node_id] = (msg.data or {}).get("latencyTotals") or {}
        for name, sample in ((msg.data or {}).get("errorSamples") or {}).items():
            self.error_samples.setdefault(str(name), str(sample))
        if (stream_figures := (msg.data or {}).get("streaming")) is not None:
            self.streaming_messages[msg.node_id] = stream_figures
        self.flushed.add(msg.node_id)
        if not self._missing_flushes():
            self._all_flushed.set()

    def _sample_cpu(self) -> None:
        """Highest CPU per worker while measuring: a saturated client is not the endpoint."""
        while self.state not in (FINISHED, ERROR):
            if self.state == MEASURING:
                for worker in self.runner.clients.values():
                    self.max_cpu[worker.id] = max(
                        self.max_cpu.get(worker.id, 0.0), worker.cpu_usage
                    )
            gevent.sleep(1.0)
