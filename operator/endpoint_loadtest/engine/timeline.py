"""The run's time series as kept in its status (status.series), for the report.

Both runtimes add one point per poll of the master with the same pure function, so
the operator, which keeps nothing in memory between ticks, grows the series from the
status it reads. The series is columnar (one list per figure) and bounded: at most
MAX_POINTS points; when full, every other point is dropped and from then on only
every second poll is kept (then every fourth...), so a 24-hour soak keeps as many
points as a minute, evenly spread. Its largest JSON form is MAX_BYTES.
"""

from __future__ import annotations

from typing import Any

from endpoint_loadtest.api.models import Progress

MAX_POINTS = 200
# The JSON size of a full series whose every figure has its widest value: the bound
# written in docs/report.md and asserted by tests/unit/test_timeline.py.
MAX_BYTES = 15_000

# column -> (Progress field, decimals kept)
COLUMNS: dict[str, tuple[str, int]] = {
    "rps": ("current_rps", 1),
    "p50Ms": ("current_p50_ms", 1),
    "p99Ms": ("current_p99_ms", 1),
    "failures": ("failures", 0),
    "users": ("users", 0),
    "targetTPS": ("target_tps", 1),
    "workerCpu": ("max_worker_cpu_percent", 0),
}
LATENCIES = ("p50Ms", "p99Ms")


def empty() -> dict[str, Any]:
    """A series with no point yet; `start` is the first point's time (epoch seconds)."""
    return {"start": None, "stride": 1, "seen": 0, "t": [], **{name: [] for name in COLUMNS}}


def add_point(
    series: dict[str, Any] | None,
    at: float,
    progress: Progress,
    conductor: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The series with the poll at `at` added (a new dict: the argument is not changed).

    `conductor`: the master's status, whose windowStart/windowEnd mark the measured
    window (the part the verdict judges) for the report to shade."""
    grown = empty() if not series or "t" not in series else _copy(series)
    if grown["start"] is None:
        grown["start"] = round(at, 3)
    for key in ("windowStart", "windowEnd"):
        value = (conductor or {}).get(key)
        if value is not None:
            grown[key] = round(float(value), 3)
    grown["seen"] += 1
    if (grown["seen"] - 1) % grown["stride"]:
        return grown
    grown["t"].append(round(at - grown["start"], 1) + 0.0)  # + 0.0: never -0.0
    idle = not progress.current_rps  # Locust's percentiles read 0 ms with no request
    for name, (attribute, decimals) in COLUMNS.items():
        value = getattr(progress, attribute)
        if idle and name in LATENCIES:
            value = None
        if value is not None:
            value = round(float(value), decimals) if decimals else int(value)
        grown[name].append(value)
    if len(grown["t"]) > MAX_POINTS:
        for name in ("t", *COLUMNS):
            grown[name] = grown[name][::2]
        grown["stride"] *= 2
    return grown


def points(series: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The series as one dict per point (t in seconds from `start`), for rendering."""
    if not series or not series.get("t"):
        return []
    names = [name for name in COLUMNS if name in series]
    return [
        {"t": t, **{name: series[name][index] for name in names}}
        for index, t in enumerate(series["t"])
    ]


def _copy(series: dict[str, Any]) -> dict[str, Any]:
    copied = {**empty(), **series}
    for name in ("t", *COLUMNS):
        copied[name] = list(series.get(name) or [None] * len(series["t"]))
    return copied
