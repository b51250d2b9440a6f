"""Observe: read a running Locust master's state, live figures and final result.

The master is reached over HTTP at a base URL the runtime provides; how the
runtime reaches it (a local port, a pod address) is not this module's business.
Whoever answers there is trusted with nothing: replies are bounded and validated,
and the result is judged only if the run's token signed it.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from endpoint_loadtest.api.models import Progress, StreamingProgress
from endpoint_loadtest.engine import master_replies as replies
from endpoint_loadtest.engine import signing, timeline
from endpoint_loadtest.engine.run_messages import result_unverified

TERMINAL_STATES = ("finished", "error")


class MasterUnavailable(Exception):
    """The master did not answer (not yet up, or gone)."""


@dataclass
class Snapshot:
    """One poll of the master: the conductor's status and Locust's live statistics."""

    at: float
    status: dict[str, Any]
    stats: dict[str, Any]

    @property
    def state(self) -> str:
        return self.status.get("state", "unknown")

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    def progress(self) -> Progress:
        aggregated = _aggregated(self.stats)
        current = self.stats.get("current_response_time_percentiles") or {}
        return Progress(
            stage=self.state,
            elapsed_seconds=round(self.status.get("elapsedSeconds") or 0.0, 1),
            total_seconds=round(self.status.get("plannedSeconds") or 0.0, 1),
            users=self.stats.get("user_count", self.status.get("users")),
            target_tps=self.status.get("targetTPS"),
            current_rps=round(self.stats.get("current_rps") or 0.0, 1),
            current_p50_ms=current.get("response_time_percentile_0.5"),
            current_p99_ms=current.get("response_time_percentile_0.99")
            or aggregated.get("response_time_percentile_0.99"),
            failures=aggregated.get("num_failures", 0),
            max_worker_cpu_percent=_max_worker_cpu(self.stats, self.status),
            streaming=(
                StreamingProgress.model_validate(self.status["streaming"])
                if self.status.get("streaming")
                else None
            ),
        )


def _aggregated(stats: dict[str, Any]) -> dict[str, Any]:
    for entry in stats.get("stats", []):
        if entry.get("name") == "Aggregated":
            return entry
    return {}


def _max_worker_cpu(stats: dict[str, Any], status: dict[str, Any]) -> float | None:
    cpus = [w.get("cpu_usage", 0) for w in stats.get("workers", [])]
    return max(cpus) if cpus else status.get("maxWorkerCpuPercent")


@dataclass
class Series:
    """The run's time series in bounded memory: at most `limit` points, whatever the length.

    When full, every other point is dropped and from then on only every second poll is
    kept (then every fourth...): a 24-hour soak keeps the same number of points as a
    minute, evenly spread, with the first and latest always there."""

    limit: int = 2000
    points: list[dict[str, Any]] = field(default_factory=list)
    stride: int = 1
    latest: dict[str, Any] | None = None
    # The smaller series kept in the status for the report (engine/timeline.py).
    status_series: dict[str, Any] | None = None
    _seen: int = 0

    def add(self, snapshot: Snapshot) -> None:
        if not snapshot.stats:
            return
        progress = snapshot.progress()
        self.status_series = timeline.add_point(
            self.status_series, snapshot.at, progress, snapshot.status
        )
        point = {"at": snapshot.at, **progress.to_wire()}
        self.latest = point
        self._seen += 1
        if (self._seen - 1) % self.stride:
            return
        self.points.append(point)
        if len(self.points) >= self.limit:
            self.points = self.points[::2]
            self.stride *= 2

    def to_list(self) -> list[dict[str, Any]]:
        if self.latest is not None and (not self.points or self.points[-1] is not self.latest):
            return [*self.points, self.latest]
        return list(self.points)


class BadReply(MasterUnavailable):
    """The master answered, but not as a master does (redirect, too large, bad shape)."""


class ResultUnverified(Exception):
    """/elt/result is not signed by this run's token: the figures are never judged."""


# The most each reply may take: a master (or whatever answers at its address) cannot
# make the reader hold more than this in memory.
MAX_REPLY_BYTES = {
    "/elt/status": 1 << 20,
    "/stats/requests": 8 << 20,
    "/elt/result": 8 << 20,
    "/elt/stop": 64 << 10,
}
MAX_DOWNLOAD_BYTES = 64 << 20  # the HTML report and CSVs


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer, not a new address: the token never travels elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


@dataclass
class MasterClient:
    """The reader's side of the master's web API: authenticated, bounded, validated.

    Every request carries the run's token; redirects are not followed (nor proxies
    used); each reply is read up to its cap and parsed by a model of what a master
    answers (engine/master_replies.py); the result counts only with a valid signature."""

    base_url: str
    token: str
    run_id: str
    timeout: float = 5.0
    series: Series = field(default_factory=Series)

    def _request(self, path: str, cap: int, method: str = "GET") -> tuple[int, bytes]:
        url = self.base_url.rstrip("/") + path
        request = urllib.request.Request(
            url,
            method=method,
            data=b"" if method == "POST" else None,
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                return response.status, _bounded(response, cap, path)
        except urllib.error.HTTPError as error:
            with error:
                if 300 <= error.code < 400:
                    where = error.headers.get("Location", "?")
                    raise BadReply(f"{path}: redirected (HTTP {error.code}) to {where}; "
                                   "not followed") from None  # fmt: skip
                if error.code in (401, 403):
                    raise BadReply(f"{path}: HTTP {error.code}, the master refused the "
                                   "run's token") from None  # fmt: skip
                return error.code, _bounded(error, cap, path)
        except (urllib.error.URLError, OSError) as error:
            raise MasterUnavailable(f"{url}: {getattr(error, 'reason', error)}") from None

    def get_json(self, path: str) -> tuple[int, Any]:
        status, body = self._request(path, MAX_REPLY_BYTES.get(path, 1 << 20))
        try:
            return status, json.loads(body)
        except ValueError:
            raise BadReply(f"{path}: not JSON (HTTP {status})") from None

    def _parse(self, path: str, model: type[Any], body: Any) -> Any:
        try:
            return model.model_validate(body)
        except ValidationError as error:
            raise BadReply(f"{path}: not a master's reply ({replies.describe(error)})") from None

    def poll(self) -> Snapshot:
        """Status and live statistics; their progress kept in `series` (bounded)."""
        code, status = self.get_json("/elt/status")
        if code != 200:
            raise BadReply(f"/elt/status: HTTP {code}")
        self._parse("/elt/status", replies.ConductorStatus, status)
        code, stats = self.get_json("/stats/requests")
        if code != 200:
            raise BadReply(f"/stats/requests: HTTP {code}")
        self._parse("/stats/requests", replies.LocustStats, stats)
        snapshot = Snapshot(at=time.time(), status=status, stats=stats)
        self.series.add(snapshot)
        return snapshot

    def result(self) -> dict[str, Any] | None:
        """The window's figures once the conductor finished, else None.

        Raises ResultUnverified when the reply is not signed by this run's token."""
        code, body = self.get_json("/elt/result")
        if code == 409:
            self._parse("/elt/result", replies.NotReady, body)
            return None
        if code != 200:
            raise BadReply(f"/elt/result: HTTP {code}")
        if isinstance(body, dict) and body.get("unprovenWorkers"):
            names = ", ".join(str(n) for n in body["unprovenWorkers"][:5])
            raise ResultUnverified(
                f"worker(s) {names} joined the master without proving the run's token, so "
                "their reports may be in the figures; the master signed no result"
            )
        try:
            signed = replies.SignedResult.model_validate(body)
        except ValidationError as error:
            raise ResultUnverified(
                f"the master's result is not a signed result ({replies.describe(error)})"
            ) from None
        try:
            signing.verify(self.token, self.run_id, signed.run_id, signed.figures, signed.signature)
        except signing.SignatureError as error:
            raise ResultUnverified(str(error)) from None
        return signed.figures

    def request_stop(self) -> None:
        """Ask the conductor to close the window now; a master already gone is fine."""
        with contextlib.suppress(MasterUnavailable):
            self._request("/elt/stop", MAX_REPLY_BYTES["/elt/stop"], method="POST")

    def download(self, path: str) -> bytes:
        """A report the master serves (HTML report, CSVs)."""
        status, body = self._request(path, MAX_DOWNLOAD_BYTES)
        if status != 200:
            raise MasterUnavailable(f"{path}: HTTP {status}")
        return body


def _bounded(response: Any, cap: int, path: str) -> bytes:
    length = response.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) > cap:
        raise BadReply(f"{path}: the reply announces {int(length)} bytes, more than {cap}")
    body = response.read(cap + 1)
    if len(body) > cap:
        raise BadReply(f"{path}: the reply is larger than {cap} bytes")
    return body


def observe_result(client: MasterClient, found: dict[str, Any]) -> None:
    """The observation of Need.RESULT into `found`: the result, or why there is none
    (`unanswered`, unless the poll already said why; a refusal if it fails verification)."""
    try:
        found["result"] = client.result()
    except MasterUnavailable as error:
        found.setdefault("unanswered", str(error))
    except ResultUnverified as error:
        found["refusal"] = result_unverified(str(error))
