"""The master's web API on a bare Flask app: the token guard and the signed result."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from flask import Flask

from endpoint_loadtest.engine import signing
from endpoint_loadtest.loadgen.master_api import install

TOKEN = signing.new_token()


class Proofs:
    def __init__(self, unproven: list[str] | None = None) -> None:
        self._unproven = unproven or []

    def unproven(self, contributors: Any = frozenset()) -> list[str]:
        return self._unproven


def _app(result: dict[str, Any] | None, unproven: list[str] | None = None) -> Any:
    app = Flask("test")

    @app.route("/swarm", methods=["POST"])  # stands for Locust's own routes
    def swarm():  # type: ignore[no-untyped-def]
        return "swarming"

    conductor = SimpleNamespace(
        result=result, state="finished", message="finished",
        config=SimpleNamespace(run_id="r1"), status=lambda: {"state": "finished"},
        request_stop=lambda: None, flushed=set(),
    )  # fmt: skip
    install(app, conductor, TOKEN, Proofs(unproven))
    return app.test_client()


def test_every_route_but_the_health_probe_needs_the_token() -> None:
    client = _app(None)
    routes = [("get", "/elt/status"), ("post", "/swarm"), ("post", "/elt/stop"),
              ("get", "/elt/result"), ("post", "/stats/reset"), ("get", "/nowhere")]  # fmt: skip
    for method, path in routes:
        assert getattr(client, method)(path).status_code == 401, path
        wrong = {"Authorization": "Bearer " + "x" * 43}
        assert getattr(client, method)(path, headers=wrong).status_code == 401, path
    assert client.get("/elt/healthz").get_json() == {"ok": True}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/swarm", headers=auth).status_code == 200
    assert client.get("/elt/result", headers=auth).status_code == 409  # no result yet


def test_the_result_verifies_as_the_reader_parses_it() -> None:
    result = {"requests": 10, "byCode": {9: 1, 10: 2}, "window": (1.5, 2.25), "p": 0.1 + 0.2}
    client = _app(result)
    body = json.loads(client.get("/elt/result", headers={"Authorization": f"Bearer {TOKEN}"}).data)
    signing.verify(TOKEN, "r1", body["runId"], body["figures"], body["signature"])
    assert body["figures"]["byCode"] == {"9": 1, "10": 2}


def test_with_a_worker_that_did_not_prove_the_token_no_result_is_signed() -> None:
    client = _app({"requests": 10}, unproven=["stranger_1"])
    body = client.get("/elt/result", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
    assert body == {"runId": "r1", "unprovenWorkers": ["stranger_1"]}
