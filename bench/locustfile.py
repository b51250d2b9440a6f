"""The benchmark's locustfile: one of three users, and a control API on the master.

BENCH_CLIENT=boto3|fast: the product's own user classes (users.user_class_for) for the
plan in ELT_PLAN_FILE; raw: Locust's FastHttpUser posting the same body unsigned to
BENCH_RAW_URL. The master serves /bench/phase/<phase> (announces a phase to workers,
as the conductor does), /bench/rate/<rate>/<cap> (open model: the worker paces that
rate) and /bench/result (the product's window_result, with the fine latency
histograms the workers send with their final flush, as the conductor computes it;
`flushed` says how many workers have flushed).
"""

from __future__ import annotations

import os
from typing import Any

from flask import jsonify
from locust import FastHttpUser, constant, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from endpoint_loadtest.loadgen import latency, open_model, phases
from endpoint_loadtest.loadgen.conductor import on_worker_phase
from endpoint_loadtest.loadgen.window_stats import window_result

CLIENT = os.environ["BENCH_CLIENT"]

if CLIENT == "raw":
    BODY = os.environ.get("BENCH_BODY", '{"inputs": "I am super happy right now."}').encode()
    BASE_TYPE = "POST"

    class RawUser(FastHttpUser):
        host = os.environ["BENCH_RAW_URL"]
        wait_time = constant(0)

        @task
        def invoke(self) -> None:
            self.client.post(
                "/endpoints/bench/invocations",
                data=BODY,
                headers={"Content-Type": "application/json"},
                name="bench",
            )

else:
    from endpoint_loadtest.loadgen.config import load_from_environment
    from endpoint_loadtest.loadgen.users import user_class_for

    _config = load_from_environment()
    BenchUser = user_class_for(_config)
    BASE_TYPE = BenchUser.base_request_type


@events.init.add_listener
def _on_init(environment: Environment, **_: object) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(phases.PHASE_MESSAGE, on_worker_phase)
        return
    if not isinstance(runner, MasterRunner) or environment.web_ui is None:
        return
    app = environment.web_ui.app
    flushed: dict[str, dict[str, Any]] = {}  # worker id -> its final flush message

    def _on_flushed(environment: Environment, msg: Any, **_: Any) -> None:
        flushed[msg.node_id] = msg.data or {}

    runner.register_message(phases.FLUSHED_MESSAGE, _on_flushed)

    @app.route("/bench/phase/<phase>", methods=["POST"])
    def _phase(phase: str):  # type: ignore[no-untyped-def]
        runner.send_message(phases.PHASE_MESSAGE, {"phase": phase})
        return jsonify({"phase": phase})

    @app.route("/bench/rate/<rate>/<int:cap>", methods=["POST"])
    def _rate(rate: str, cap: int):  # type: ignore[no-untyped-def]
        # Open model: the worker paces `rate` requests/s, at most `cap` in flight.
        runner.send_message(phases.PHASE_MESSAGE, {"rate": float(rate), "maxInFlight": cap})
        return jsonify({"rate": float(rate)})

    @app.route("/bench/result")
    def _result():  # type: ignore[no-untyped-def]
        workers = list(flushed.values())
        histograms = latency.merge_messages(
            [f.get("latency") or {} for f in workers],
            [f.get("latencyTotals") or {} for f in workers],
        )
        result = window_result(runner.stats, BASE_TYPE, histograms)
        open_figures = [f["openModel"] for f in flushed.values() if f.get("openModel")]
        if open_figures:  # open model: intended sends, and those not made on time
            result.update(open_model.window_totals(open_figures))
        return jsonify({**result, "flushed": len(flushed)})
