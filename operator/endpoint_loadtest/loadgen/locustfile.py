"""The locustfile every Locust process of a test runs (master and workers alike).

It reads the plan named by ELT_PLAN_FILE, defines the user class for the target,
and wires the conductor (master, its web API guarded by the run token named by
ELT_TOKEN_FILE) or the phase handler (workers). Run it through
`elt-locust`, which passes this file to Locust.
"""

from __future__ import annotations

import logging
import os

import gevent
import locust.runners
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from endpoint_loadtest.engine.signing import TOKEN_FILE_ENV, read_token
from endpoint_loadtest.loadgen import master_api, phases, worker_proof
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


def _token() -> str:
    """The run's token (a mounted file): the master serves its API only with it, and
    each worker proves it holds it."""
    path = os.environ.get(TOKEN_FILE_ENV)
    if not path:
        raise RuntimeError(f"{TOKEN_FILE_ENV} is not set: the master needs the run's token")
    return read_token(path)


@events.init.add_listener
def _on_init(environment: Environment, **_: object) -> None:
    runner = environment.runner
    if CONFIG.target.get("stream") is not None:
        streaming_window.register_live(environment)
    token = _token()
    if isinstance(runner, WorkerRunner):
        runner.register_message(phases.PHASE_MESSAGE, on_worker_phase)
        worker_proof.send_proof(environment, token)
        return
    if not isinstance(runner, MasterRunner):
        raise RuntimeError("the load generator runs as a Locust master with workers")
    proofs = worker_proof.WorkerProofs(environment, token)
    conductor = Conductor(environment, CONFIG, EndpointLoadTestUser.base_request_type)
    web_ui = environment.web_ui
    if web_ui is not None:
        master_api.install(web_ui.app, conductor, token, proofs)
    gevent.spawn(conductor.run)
