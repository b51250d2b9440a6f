"""Workers prove they hold the run's token; the master knows who joined without it.

Locust's ZeroMQ port takes reports from any process that connects and says it is a
worker, and those reports feed the statistics the result is computed from. Locust has
no way to authenticate them, so each worker, once connected, sends a proof (an HMAC of
its node id under the run's token), and the master keeps the ids of the workers that
joined and never proved it: with any such worker the master signs no result, and the
run ends in Error instead of a verdict on figures a stranger may have fed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from locust.env import Environment

PROOF_MESSAGE = "elt_worker_proof"
log = logging.getLogger("elt.workers")


def proof(token: str, node_id: str) -> str:
    message = f"elt-worker-v1\n{node_id}".encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()


def send_proof(environment: Environment, token: str) -> None:
    """Worker side: prove the token, under the id the master knows this worker by."""
    runner: Any = environment.runner
    runner.send_message(PROOF_MESSAGE, {"proof": proof(token, runner.client_id)})


class WorkerProofs:
    """Master side: who joined, and who proved the token."""

    def __init__(self, environment: Environment, token: str) -> None:
        self.token = token
        self.joined: set[str] = set()
        self.proven: set[str] = set()
        environment.events.worker_connect.add_listener(self._on_connect)
        environment.runner.register_message(PROOF_MESSAGE, self._on_proof)  # type: ignore[union-attr]

    def _on_connect(self, client_id: str, **_: Any) -> None:
        self.joined.add(client_id)

    def _on_proof(self, environment: Environment, msg: Any, **_: Any) -> None:
        given = str((msg.data or {}).get("proof") or "")
        if hmac.compare_digest(given, proof(self.token, msg.node_id)):
            self.proven.add(msg.node_id)
        else:
            log.warning("worker %s sent a wrong proof of the run's token", msg.node_id)

    def unproven(self) -> list[str]:
        return sorted(self.joined - self.proven)
