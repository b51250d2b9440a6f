"""The master's web API: the conductor's routes, and the token every route but one needs.

Locust's own web API (`/swarm`, `/stop`, `/stats/reset`, the UI) would let anyone who
reaches the master change the load or spoil the window; the conductor's `/elt/stop` ends
the run early. So one `before_request` hook guards the whole Flask app, Locust's routes
included: a request without `Authorization: Bearer <the run's token>` gets 401. Only the
health probe (`/elt/healthz`, which says nothing but "up") is open, for the kubelet.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import Flask, jsonify, request

from endpoint_loadtest.engine.plan import HEALTH_PATH
from endpoint_loadtest.engine.signing import SIGNATURE_ALGORITHM, bearer, sign, tokens_equal

if TYPE_CHECKING:
    from endpoint_loadtest.loadgen.worker_proof import WorkerProofs


def install(app: Flask, conductor: Any, token: str, proofs: WorkerProofs) -> None:
    """Guard `app` with `token` and add the conductor's routes."""

    @app.before_request
    def _authenticate():  # type: ignore[no-untyped-def]
        if request.path == HEALTH_PATH:
            return None
        if tokens_equal(bearer(request.headers.get("Authorization")), token):
            return None
        response = jsonify({"error": "this master needs the run's token (Authorization: Bearer)"})
        response.headers["WWW-Authenticate"] = 'Bearer realm="elt"'
        return response, 401

    @app.route(HEALTH_PATH)
    def _healthz():  # type: ignore[no-untyped-def]
        return jsonify({"ok": True})

    @app.route("/elt/status")
    def _status():  # type: ignore[no-untyped-def]
        return jsonify(conductor.status())

    @app.route("/elt/result")
    def _result():  # type: ignore[no-untyped-def]
        if conductor.result is None:
            return jsonify({"state": conductor.state, "message": conductor.message}), 409
        run_id = conductor.config.run_id
        if unproven := proofs.unproven(
            set(conductor.flushed)
        ):  # figures a stranger may have fed: not signed
            return jsonify({"runId": run_id, "unprovenWorkers": unproven})
        # Signed as the reader will parse them (JSON keys are strings, tuples are lists).
        figures = json.loads(json.dumps(conductor.result))
        return jsonify(
            {
                "runId": run_id,
                "figures": figures,
                "algorithm": SIGNATURE_ALGORITHM,
                "signature": sign(token, run_id, figures),
            }
        )

    @app.route("/elt/stop", methods=["POST"])
    def _stop():  # type: ignore[no-untyped-def]
        conductor.request_stop()
        return jsonify({"state": conductor.state})
