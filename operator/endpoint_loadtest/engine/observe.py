"""Observe: read a running Locust master's state, live figures and final result.

The master is reached over HTTP at a base URL the runtime provides; how the
runtime reaches it (a local port, a pod address) is not this module's business.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from endpoint_loadtest.api.models import Progress, StreamingProgress
from endpoint_loadtest.engine import timeline

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


@dataclass
class MasterClient:
    base_url: str
    timeout: float = 5.0
    series: Series = field(default_factory=Series)

    def _get(self, path: str) -> tuple[int, bytes]:
        url = self.base_url.rstrip("/") + path
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except (urllib.error.URLError, OSError) as error:
            raise MasterUnavailable(f"{url}: {getattr(error, 'reason', error)}") from None

    def get_json(self, path: str) -> tuple[int, Any]:
        status, body = self._get(path)
        try:
            return status, json.loads(body)
        except ValueError:
            raise MasterUnavailable(f"{path}: not JSON (HTTP {status})") from None

    def poll(self) -> Snapshot:
        """Status and live statistics; their progress kept in `series` (bounded)."""
        _, status = self.get_json("/elt/status")
        _, stats = self.get_json("/stats/requests")
        snapshot = Snapshot(at=time.time(), status=status, stats=stats)
        self.series.add(snapshot)
        return snapshot

    def result(self) -> dict[str, Any] | None:
        """The window's result once the conductor finished, else None."""
        code, body = self.get_json("/elt/result")
        return body if code == 200 else None

    def request_stop(self) -> None:
        """Ask the conductor to close the window now; a master already gone is fine."""
        request = urllib.request.Request(self.base_url + "/elt/stop", method="POST", data=b"")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(request, timeout=self.timeout).close()

    def download(self, path: str) -> bytes:
        """A report the master serves (HTML report, CSVs)."""
        status, body = self._get(path)
        if status != 200:
            raise MasterUnavailable(f"{path}: HTTP {status}")
        return body
