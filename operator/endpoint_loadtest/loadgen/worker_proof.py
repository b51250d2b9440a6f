"""Workers prove they hold the run's token; the master knows who joined without it.

Locust's ZeroMQ port takes reports from any process that connects and says it is a
worker, and those reports feed the statistics the result is computed from. Locust has
no way to authenticate them, so each worker proves the token (an HMAC of its node id
under the run's token): once connected, and again in every stats report, so a proof
lost on the way (a master still starting, a busy node) is made good by the next report.
The master keeps the ids of the workers whose figures it received (stats reports,
window figures) without a proof: with any such worker it signs no result, and the run
ends in Error instead of a verdict on figures a stranger may have fed. A worker that
joined and went away before it reported anything fed nothing and does not count.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing locust patches the process with gevent: only when it runs
    from locust.env import Environment

PROOF_MESSAGE = "elt_worker_proof"
PROOF_KEY = "eltWorkerProof"  # in each stats report
log = logging.getLogger("elt.workers")


def proof(token: str, node_id: str) -> str:
    message = f"elt-worker-v1\n{node_id}".encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()


def send_proof(environment: Environment, token: str) -> None:
    """Worker side: prove the token, under the id the master knows this worker by."""
    runner: Any = environment.runner
    runner.send_message(PROOF_MESSAGE, {"proof": proof(token, runner.client_id)})

    def add_to_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        data[PROOF_KEY] = proof(token, client_id)

    environment.events.report_to_master.add_listener(add_to_report)


class WorkerProofs:
    """Master side: who joined, and who proved the token."""

    def __init__(self, environment: Environment, token: str) -> None:
        self.token = token
        self.reported: set[str] = set()
        self.proven: set[str] = set()
        environment.events.worker_report.add_listener(self._on_report)
        environment.runner.register_message(PROOF_MESSAGE, self._on_proof)  # type: ignore[union-attr]

    def _on_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        self.reported.add(client_id)
        self._check(client_id, (data or {}).get(PROOF_KEY))

    def _on_proof(self, environment: Environment, msg: Any, **_: Any) -> None:
        self._check(msg.node_id, (msg.data or {}).get("proof"))

    def _check(self, node_id: str, given: Any) -> None:
        if given and hmac.compare_digest(str(given), proof(self.token, node_id)):
            self.proven.add(node_id)
        elif node_id not in self.proven:
            log.warning("worker %s sent no valid proof of the run's token", node_id)

    def unproven(self, contributors: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """Workers whose figures reached the master (stats reports, and the window
        figures of `contributors`) without a proof of the token."""
        return sorted((self.reported | set(contributors)) - self.proven)
