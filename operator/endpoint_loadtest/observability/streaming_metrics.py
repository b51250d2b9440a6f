"""The token stream's series on /metrics (streamed targets), beside exported_metrics.py's.

Same conventions: seconds, a `percentile` label; `current_*` from status.progress (the
last seconds), the others from status.results (the measurement window, final).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PERCENTILES = ("p50", "p90", "p95", "p99")

METRICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "current_ttft_seconds": (
        "gauge",
        "Time to first token over the last seconds (p50, p99).",
        ("percentile",),
    ),
    "current_tpot_seconds": (
        "gauge",
        "Time per output token over the last seconds (p50, p99).",
        ("percentile",),
    ),
    "current_output_tokens_per_second": ("gauge", "Output tokens per second now.", ()),
    "ttft_seconds": (
        "gauge",
        "Time to first token percentiles of the measurement window (final).",
        ("percentile",),
    ),
    "tpot_seconds": (
        "gauge",
        "Time per output token percentiles of the measurement window (final).",
        ("percentile",),
    ),
    "itl_seconds": (
        "gauge",
        "Inter-token latency percentiles of the measurement window (final).",
        ("percentile",),
    ),
    "window_output_tokens_per_second": (
        "gauge",
        "Output tokens per second of the measurement window (all requests together).",
        (),
    ),
    "output_tokens": (
        "counter",
        "Output tokens of every successful stream of the run (final).",
        (),
    ),
    "goodput_requests_per_second": (
        "gauge",
        "Requests per second of the window that met every thresholds.streaming.slo.",
        (),
    ),
    "ttft_limit_seconds": ("gauge", "thresholds.streaming.ttftMs, by percentile.", ("percentile",)),
    "tpot_limit_seconds": ("gauge", "thresholds.streaming.tpotMs, by percentile.", ("percentile",)),
    "min_output_tokens_per_second": (
        "gauge",
        "thresholds.streaming.minOutputTokensPerSecond.",
        (),
    ),
    "min_goodput": ("gauge", "thresholds.streaming.minGoodput (requests/s).", ()),
}


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value) / 1000.0


def streaming_samples(
    status: dict[str, Any], spec: dict[str, Any] | None, put: Callable[..., None]
) -> None:
    """Put the streaming samples of one test through status_samples.flatten's `put`."""
    live = (status.get("progress") or {}).get("streaming") or {}
    for key in ("p50", "p99"):
        put("current_ttft_seconds", _seconds(live.get(f"ttft{key.upper()}Ms")), key)
        put("current_tpot_seconds", _seconds(live.get(f"tpot{key.upper()}Ms")), key)
    put("current_output_tokens_per_second", live.get("outputTokensPerSecond"))
    window = (status.get("results") or {}).get("streaming") or {}
    if window:
        for key in PERCENTILES:
            put("ttft_seconds", _seconds((window.get("ttftMs") or {}).get(key)), key)
            put("tpot_seconds", _seconds((window.get("tpotMs") or {}).get(key)), key)
            put("itl_seconds", _seconds((window.get("itlMs") or {}).get(key)), key)
        put("window_output_tokens_per_second", window.get("outputTokensPerSecond"))
        put("output_tokens", window.get("totalOutputTokens"))
        put("goodput_requests_per_second", window.get("goodput"))
    limits = ((spec or {}).get("thresholds") or {}).get("streaming") or {}
    for key in PERCENTILES:
        put("ttft_limit_seconds", _seconds((limits.get("ttftMs") or {}).get(key)), key)
        put("tpot_limit_seconds", _seconds((limits.get("tpotMs") or {}).get(key)), key)
    put("min_output_tokens_per_second", limits.get("minOutputTokensPerSecond"))
    put("min_goodput", limits.get("minGoodput"))
