"""Truth counters: exactly what the simulator served, for tests to compare reports against.

Every sample is kept (8 bytes each), so summaries are exact: mean, and percentiles by
the nearest-rank method (p-th percentile = the ceil(p/100 x n)-th smallest value).
"""

from __future__ import annotations

import math
import time
from array import array
from collections import Counter
from typing import Any

PERCENTILES = (50, 90, 99)


def summarize(samples: array) -> dict[str, Any]:
    """count, mean, min, max, p50, p90, p99 (nearest rank) of the samples, in ms."""
    count = len(samples)
    if not count:
        return {"count": 0, "mean": None, "min": None, "max": None}
    ordered = sorted(samples)
    result: dict[str, Any] = {
        "count": count,
        "mean": math.fsum(ordered) / count,
        "min": ordered[0],
        "max": ordered[-1],
    }
    for p in PERCENTILES:
        result[f"p{p}"] = ordered[max(1, math.ceil(p / 100 * count)) - 1]
    return result


class _Counts:
    """Requests, successes and responses by status and by error code."""

    def __init__(self) -> None:
        self.requests = 0
        self.successes = 0
        self.by_status: Counter[int] = Counter()
        self.by_error: Counter[str] = Counter()

    def count(self, status: int, error: str | None) -> None:
        self.requests += 1
        self.by_status[status] += 1
        if error is None:
            self.successes += 1
        else:
            self.by_error[error] += 1

    def counts_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "successes": self.successes,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_error": dict(sorted(self.by_error.items())),
        }


class VariantStats(_Counts):
    """Counts for requests that reached a variant (after auth and endpoint lookup)."""

    def __init__(self) -> None:
        super().__init__()
        self.service_ms = array("d")  # worker time, requests that reached a worker
        self.model_latency_ms = array("d")  # queue wait + service (CloudWatch ModelLatency)
        self.response_ms = array("d")  # server-side time from request read to response

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.counts_dict(),
            "service_ms": summarize(self.service_ms),
            "model_latency_ms": summarize(self.model_latency_ms),
            "response_ms": summarize(self.response_ms),
        }


class EndpointStats(_Counts):
    """Counts for every InvokeEndpoint request addressed to one endpoint name."""

    def __init__(self, variant_names: list[str]) -> None:
        super().__init__()
        self.auth_failures: Counter[str] = Counter()
        self.variants = {name: VariantStats() for name in variant_names}

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.counts_dict(),
            "auth_failures": sum(self.auth_failures.values()),
            "auth_failures_by_code": dict(sorted(self.auth_failures.items())),
            "variants": {name: v.to_dict() for name, v in self.variants.items()},
        }


class Stats:
    """All counters; reset() starts them again from zero."""

    def __init__(self, endpoints: dict[str, list[str]]) -> None:
        self._layout = endpoints
        self.reset()

    def reset(self) -> None:
        self.started = time.time()
        self.endpoints = {name: EndpointStats(vs) for name, vs in self._layout.items()}
        # requests naming no configured endpoint (their auth is checked first, as on AWS)
        self.unknown = EndpointStats([])

    def endpoint_response(
        self, stats: EndpointStats, status: int, error: str | None, auth_failure: bool = False
    ) -> None:
        """Count a response at endpoint level (variant level is counted by the caller)."""
        stats.count(status, error)
        if error is not None and auth_failure:
            stats.auth_failures[error] += 1

    @staticmethod
    def variant_response(
        stats: VariantStats,
        status: int,
        error: str | None,
        service_s: float | None,
        model_s: float | None,
        response_s: float,
    ) -> None:
        stats.count(status, error)
        if service_s is not None:
            stats.service_ms.append(service_s * 1000.0)
        if model_s is not None:
            stats.model_latency_ms.append(model_s * 1000.0)
        stats.response_ms.append(response_s * 1000.0)

    def to_dict(self) -> dict[str, Any]:
        endpoints = {name: e.to_dict() for name, e in self.endpoints.items()}
        every = [*self.endpoints.values(), self.unknown]
        by_status: Counter[str] = Counter()
        by_error: Counter[str] = Counter()
        for e in every:
            by_status.update({str(k): v for k, v in e.by_status.items()})
            by_error.update(e.by_error)
        return {
            "since": self.started,
            "uptime_s": time.time() - self.started,
            "totals": {
                "requests": sum(e.requests for e in every),
                "successes": sum(e.successes for e in every),
                "by_status": dict(sorted(by_status.items())),
                "by_error": dict(sorted(by_error.items())),
                "auth_failures": sum(sum(e.auth_failures.values()) for e in every),
                "unknown_endpoint_requests": self.unknown.requests,
            },
            "endpoints": endpoints,
        }
