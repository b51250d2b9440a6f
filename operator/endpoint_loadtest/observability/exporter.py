"""The /metrics exporter: per-test figures the operator (or `elt run`) already holds.

A `LoadTestExporter` is a prometheus-client collector. The runtime feeds it with
status-shaped dicts (the resource's `status`, camelCase, as written to the API or to
result.json) and, while the test runs, optionally the Locust master's last poll; a
scrape renders what is held, under a lock, and calls neither AWS nor a Locust master.

    from endpoint_loadtest.observability.exporter import EXPORTER, serve
    serve(9090)                                    # once, at start-up
    EXPORTER.update(namespace, name, status, snapshot=snapshot)   # each reconcile
    EXPORTER.remove(namespace, name)               # on deletion

Every series carries the labels namespace, name and run (status.runId); percentiles
are told apart by a `percentile` label (p50, p90, p95, p99), not `quantile`, which
Prometheus reserves for summaries. Units are
Prometheus base units: seconds and ratios (CloudWatch's percentages / 100, its
microseconds / 1e6).

This module holds the collector and the server; what is exported is catalogued in
`exported_metrics` and a status is turned into samples by `status_samples`. Both are
re-exported here (`METRICS`, `PREFIX`, `metric_names`, `flatten`, ...).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

from endpoint_loadtest.observability.exported_metrics import (
    LABELS,
    METRICS,
    PREFIX,
    metric_names,
)
from endpoint_loadtest.observability.status_samples import (
    CLOUDWATCH_QUANTILES,
    PHASES,
    QUANTILES,
    VERDICTS,
    Sample,
    dedupe,
    flatten,
)

__all__ = [
    "CLOUDWATCH_QUANTILES",
    "EXPORTER",
    "LABELS",
    "METRICS",
    "PHASES",
    "PREFIX",
    "QUANTILES",
    "REGISTRY",
    "VERDICTS",
    "LoadTestExporter",
    "LoadTestFigures",
    "Sample",
    "flatten",
    "metric_names",
    "serve",
]


@dataclass
class LoadTestFigures:
    """What one test exports, already flattened into samples."""

    labels: tuple[str, str, str]
    samples: list[Sample] = field(default_factory=list)


class LoadTestExporter(Collector):
    """Holds the flattened figures of every known test; collect() renders them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scraped = threading.Condition(self._lock)
        self._tests: dict[tuple[str, str], LoadTestFigures] = {}
        self._updates = 0  # updates so far
        self._delivered = 0  # the update count the last fully sent /metrics response held

    def update(
        self,
        namespace: str,
        name: str,
        status: dict[str, Any],
        *,
        snapshot: Any = None,
        spec: dict[str, Any] | None = None,
    ) -> None:
        """Replace a test's figures with those of `status` (camelCase, as in the API).

        `snapshot`: the master's last poll (engine.observe.Snapshot) while running, for
        the figures status.progress does not carry. `spec`: the test's spec (camelCase),
        for the targets the dashboard draws against (minTPS, latency limits)."""
        run = str(status.get("runId") or "")
        figures = LoadTestFigures(
            labels=(namespace, name, run), samples=dedupe(flatten(status, snapshot, spec))
        )
        with self._lock:
            self._tests[(namespace, name)] = figures
            self._updates += 1

    def remove(self, namespace: str, name: str) -> None:
        """Forget a deleted test: its series disappear from the next scrape."""
        with self._lock:
            self._tests.pop((namespace, name), None)

    def updates(self) -> int:
        with self._lock:
            return self._updates

    def delivered(self, updates: int) -> None:
        """A /metrics response holding the first `updates` updates was fully sent."""
        with self._scraped:
            self._delivered = max(self._delivered, updates)
            self._scraped.notify_all()

    def wait_scraped(self, timeout: float) -> bool:
        """Block until a /metrics response with the latest update has been sent through
        `serve` (or timeout); True if so. `elt run` uses it so that a scraper gets the
        final figures before the process exits."""
        with self._scraped:
            return self._scraped.wait_for(lambda: self._delivered >= self._updates, timeout)

    def keys(self) -> list[tuple[str, str]]:
        with self._lock:
            return sorted(self._tests)

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        families = {family.name: family for family in self._families()}
        with self._lock:
            tests = list(self._tests.values())
        for test in tests:
            for key, extra, value in test.samples:
                family = families[f"{PREFIX}_{key}"]
                family.add_metric([*test.labels, *extra], value)
        yield from families.values()

    @staticmethod
    def _families() -> list[Metric]:
        out: list[Metric] = []
        for key, (kind, text, extra) in METRICS.items():
            cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            out.append(cls(f"{PREFIX}_{key}", text, labels=[*LABELS, *extra]))
        return out


EXPORTER = LoadTestExporter()
REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(EXPORTER)


class _Delivered:
    """A WSGI response that tells the exporter once the server has sent all of it."""

    def __init__(self, body: Iterable[bytes], exporter: LoadTestExporter, updates: int) -> None:
        self.body, self.exporter, self.updates = body, exporter, updates

    def __iter__(self):
        return iter(self.body)

    def close(self) -> None:  # wsgiref calls it after the last byte was written
        closer = getattr(self.body, "close", None)
        if closer is not None:
            closer()
        self.exporter.delivered(self.updates)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(
    port: int,
    host: str = "0.0.0.0",
    registry: CollectorRegistry = REGISTRY,
    exporter: LoadTestExporter | None = None,
):
    """Serve /metrics on host:port in a daemon thread; returns (server, thread).

    prometheus-client's WSGI app (text or OpenMetrics by the scraper's Accept header),
    in a threading server. Port 0 picks a free port: `server.server_address[1]`."""
    exporter = exporter or EXPORTER
    app = make_wsgi_app(registry)

    def tracked(environ: dict[str, Any], start_response: Any) -> Any:
        updates = exporter.updates()
        return _Delivered(app(environ, start_response), exporter, updates)

    class Server(ThreadingWSGIServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    server = make_server(host, port, tracked, Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="elt-metrics", daemon=True)
    thread.start()
    return server, thread
