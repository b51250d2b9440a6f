"""status.series: bounded whatever the run's length, evenly spread, the window marked."""

from __future__ import annotations

import json

from endpoint_loadtest.api.models import EndpointLoadTestStatus, Progress
from endpoint_loadtest.engine import timeline

START = 1_796_171_203.712


def progress(**figures) -> Progress:
    base = {"current_rps": 100.0, "current_p50_ms": 20.0, "current_p99_ms": 80.0}
    return Progress.model_validate(base | figures)


def grow(polls: int, every: float = 1.0, **figures) -> dict:
    series = None
    for index in range(polls):
        series = timeline.add_point(series, START + index * every, progress(**figures))
    return series


def test_a_day_of_polls_keeps_at_most_max_points_evenly_spread() -> None:
    series = grow(86_400)
    assert len(series["t"]) <= timeline.MAX_POINTS
    assert len(series["t"]) >= timeline.MAX_POINTS // 2
    gaps = {round(b - a, 1) for a, b in zip(series["t"], series["t"][1:], strict=False)}
    assert gaps == {float(series["stride"])}  # evenly spread: one gap, the stride
    assert series["t"][0] == 0.0 and series["seen"] == 86_400
    for column in timeline.COLUMNS:
        assert len(series[column]) == len(series["t"]), column


def test_the_largest_series_stays_within_max_bytes() -> None:
    """The bound docs/report.md gives: every figure at its widest, the series full."""
    widest = {
        "current_rps": 999_999.9,
        "current_p50_ms": 9_999_999.9,
        "current_p99_ms": 9_999_999.9,
        "failures": 9_999_999_999,
        "users": 9_999_999,
        "target_tps": 999_999.9,
        "max_worker_cpu_percent": 100.0,
    }
    series = None
    conductor = {"windowStart": START + 0.123, "windowEnd": START + 999_999.123}
    index = 0
    while series is None or series["stride"] < 8 or len(series["t"]) < timeline.MAX_POINTS:
        at = START + index * 1234.5  # t of up to 7 digits: a run of weeks
        series = timeline.add_point(series, at, progress(**widest), conductor)
        index += 1
    assert len(series["t"]) == timeline.MAX_POINTS and series["t"][-1] > 1_000_000
    stored = EndpointLoadTestStatus(series=series).to_wire()["series"]
    size = len(json.dumps(stored, separators=(",", ":")))
    print(f"\nthe largest series: {size} bytes of JSON")
    assert size <= timeline.MAX_BYTES, size
    assert size > timeline.MAX_BYTES * 0.8, size  # the bound is tight, not a guess


def test_the_argument_is_not_changed_and_the_window_is_kept() -> None:
    first = timeline.add_point(None, START, progress())
    second = timeline.add_point(first, START + 1, progress(), {"windowStart": START + 0.5})
    assert first["t"] == [0.0] and "windowStart" not in first
    assert second["t"] == [0.0, 1.0] and second["windowStart"] == round(START + 0.5, 3)


def test_no_latency_is_recorded_while_nothing_is_sent() -> None:
    series = timeline.add_point(None, START, progress(current_rps=0.0, current_p99_ms=0.0))
    assert series["p99Ms"] == [None] and series["p50Ms"] == [None]
    assert series["rps"] == [0.0]


def test_points_reads_the_columns_back() -> None:
    series = grow(3, users=4)
    assert timeline.points(series)[2] == {
        "t": 2.0, "rps": 100.0, "p50Ms": 20.0, "p99Ms": 80.0, "failures": None,
        "users": 4, "targetTPS": None, "workerCpu": None,
    }  # fmt: skip
    assert timeline.points(None) == []
