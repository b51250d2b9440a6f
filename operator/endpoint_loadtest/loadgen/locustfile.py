"""The locustfile every Locust process of a test runs (master and workers alike).

It reads the plan named by ELT_PLAN_FILE, defines the user class for the target,
and wires the conductor (master) or the phase handler (workers). Run it through
`elt-locust`, which passes this file to Locust.
"""

from __future__ import annotations

import logging

import gevent
import locust.runners
from flask import jsonify
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from endpoint_loadtest.loadgen import phases
from endpoint_loadtest.loadgen.conductor import Conductor, on_worker_phase
from endpoint_loadtest.loadgen.config import load_from_environment
from endpoint_loadtest.loadgen.streaming import window as streaming_window
from endpoint_loadtest.loadgen.users import user_class_for

log = logging.getLogger("elt.locustfile")

# Locust samples each process's CPU every 10 s; a verdict that must notice a saturated
# generator within a one-minute window needs finer samples (read every loop).
locust.runners.CPU_MONITOR_INTERVAL = 2.0

CONFIG = load_from_environment()
EndpointLoadTestUser = user_class_for(CONFIG)


@events.init.add_listener
def _on_init(environment: Environment, **_: object) -> None:
    runner = environment.runner
    if CONFIG.target.get("stream") is not None:
        streaming_window.register_live(environment)
    if isinstance(runner, WorkerRunner):
        runner.register_message(phases.PHASE_MESSAGE, on_worker_phase)
        return
    if not isinstance(runner, MasterRunner):
        raise RuntimeError("the load generator runs as a Locust master with workers")
    conductor = Conductor(environment, CONFIG, EndpointLoadTestUser.base_request_type)
    web_ui = environment.web_ui
    if web_ui is not None:
        app = web_ui.app

        @app.route("/elt/status")
        def _status():  # type: ignore[no-untyped-def]
            return jsonify(conductor.status())

        @app.route("/elt/result")
        def _result():  # type: ignore[no-untyped-def]
            if conductor.result is None:
                return jsonify({"state": conductor.state, "message": conductor.message}), 409
            return jsonify(conductor.result)

        @app.route("/elt/stop", methods=["POST"])
        def _stop():  # type: ignore[no-untyped-def]
            conductor.request_stop()
            return jsonify({"state": conductor.state})

    gevent.spawn(conductor.run)
