"""Workers prove the run's token; only workers whose figures arrived unproven count."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from endpoint_loadtest.loadgen.worker_proof import (
    PROOF_KEY,
    PROOF_MESSAGE,
    WorkerProofs,
    proof,
    send_proof,
)

TOKEN = "t" * 43


class Hook:
    """A Locust event hook: listeners called with keyword arguments."""

    def __init__(self) -> None:
        self.listeners: list[Any] = []

    def add_listener(self, listener: Any) -> None:
        self.listeners.append(listener)

    def fire(self, **kwargs: Any) -> None:
        for listener in self.listeners:
            listener(**kwargs)


class Events:
    """The hooks of locust.event.Events these functions use (importing locust in the
    test process would patch it with gevent)."""

    def __init__(self) -> None:
        self.worker_report = Hook()
        self.worker_connect = Hook()
        self.report_to_master = Hook()


class FakeRunner:
    """What WorkerProofs and send_proof use of a Locust runner."""

    def __init__(self, client_id: str = "") -> None:
        self.client_id = client_id
        self.handlers: dict[str, Any] = {}
        self.sent: list[tuple[str, Any]] = []

    def register_message(self, kind: str, handler: Any) -> None:
        self.handlers[kind] = handler

    def send_message(self, kind: str, data: Any) -> None:
        self.sent.append((kind, data))


def _master() -> tuple[WorkerProofs, Any]:
    environment = SimpleNamespace(events=Events(), runner=FakeRunner())
    return WorkerProofs(environment, TOKEN), environment  # type: ignore[arg-type]


def _message(node_id: str, given: str) -> Any:
    return SimpleNamespace(node_id=node_id, data={"proof": given})


def test_a_worker_whose_proof_message_was_lost_is_proven_by_its_report() -> None:
    proofs, environment = _master()
    environment.events.worker_report.fire(client_id="w1", data={PROOF_KEY: proof(TOKEN, "w1")})
    assert proofs.unproven() == []


def test_a_stranger_reporting_without_the_token_is_named() -> None:
    proofs, environment = _master()
    handler = environment.runner.handlers[PROOF_MESSAGE]
    handler(environment=environment, msg=_message("w1", proof(TOKEN, "w1")))
    environment.events.worker_report.fire(client_id="w1", data={})
    environment.events.worker_report.fire(client_id="s1", data={PROOF_KEY: proof("x" * 43, "s1")})
    handler(environment=environment, msg=_message("s2", proof(TOKEN, "someone-else")))
    assert proofs.unproven({"s2"}) == ["s1", "s2"]


def test_a_worker_that_joined_and_left_before_reporting_fed_nothing() -> None:
    proofs, environment = _master()
    environment.events.worker_connect.fire(client_id="gone")
    assert proofs.unproven() == []


def test_the_worker_proves_the_token_at_once_and_in_every_report() -> None:
    environment = SimpleNamespace(events=Events(), runner=FakeRunner("w1"))
    send_proof(environment, TOKEN)  # type: ignore[arg-type]
    assert environment.runner.sent == [(PROOF_MESSAGE, {"proof": proof(TOKEN, "w1")})]
    data: dict[str, Any] = {}
    environment.events.report_to_master.fire(client_id="w1", data=data)
    assert data[PROOF_KEY] == proof(TOKEN, "w1")
