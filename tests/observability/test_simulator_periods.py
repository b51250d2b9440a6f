"""The simulator's CloudWatch periods: every response is stamped with the period it was
recorded in, whenever the publish loop closes that period.

The moto-extended percentile test lost invocations in 1 run of 6 to 1 of 2: the
collector fixed its first period when it was made, the publish loop its first boundary
when it started (after building the CloudWatch client, 0.2-0.4 s later); a boundary in
between made the first close cover two periods, all stamped with the earlier one, so the
requests of the second landed one period before the test's window. A publish loop held
up past a boundary (a slow PutMetricData) did the same."""

from __future__ import annotations

import asyncio
import datetime as dt

from endpoint_loadtest.simulator.config import EndpointConfig, VariantConfig
from endpoint_loadtest.simulator.metrics import MetricsCollector, build_metric_data, publish_loop
from endpoint_loadtest.simulator.model import Endpoint


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _endpoints() -> dict[str, Endpoint]:
    config = EndpointConfig("e", (VariantConfig(instances=2),))
    return {"e": Endpoint(config, seed=1, now=0.0)}


def _record(collector: MetricsCollector, count: int) -> None:
    for _ in range(count):
        collector.record("e", "AllTraffic", 200, None, 0.01, 0.002)


def _invocations(snapshots) -> dict[float, int]:
    return {s.start: s.variants[("e", "AllTraffic")].invocations for s in snapshots if s.variants}


def test_a_late_first_close_keeps_each_period_apart() -> None:
    clock = Clock(1_000.99)  # made just before a boundary ...
    collector = MetricsCollector(_endpoints(), 1.0, clock)
    clock.now = 1_001.3  # ... the loop starts after it: its first boundary is 1002
    _record(collector, 5)
    clock.now = 1_002.001
    snapshots = collector.close(0.0, before=1_002)
    assert _invocations(snapshots) == {1_001.0: 5}  # not 1000: the request's own period
    # Utilisation for every period since the collector was made (1000 and 1001).
    assert [s.start for s in snapshots] == [1_000.0, 1_001.0]
    assert all(s.cpu_percent[("e", "AllTraffic")] == [0.0, 0.0] for s in snapshots)


def test_a_loop_held_up_for_periods_stamps_each_with_its_own() -> None:
    clock = Clock(2_000.0)
    collector = MetricsCollector(_endpoints(), 1.0, clock)
    for at, count in ((2_000.5, 3), (2_001.5, 4), (2_002.2, 2)):
        clock.now = at
        _record(collector, count)
    clock.now = 2_003.4  # the loop comes back late (a slow PutMetricData)
    snapshots = collector.close(0.0, before=2_003)
    assert _invocations(snapshots) == {2_000.0: 3, 2_001.0: 4, 2_002.0: 2}
    data = [build_metric_data(s, _endpoints(), "values") for s in snapshots]
    stamps = [
        d["Timestamp"]
        for batch in data
        for d in batch["AWS/SageMaker"]
        if d["MetricName"] == "Invocations"
    ]
    assert stamps == [dt.datetime.fromtimestamp(t, tz=dt.UTC) for t in (2_000, 2_001, 2_002)]
    # A response recorded after the boundary waits for the next close.
    _record(collector, 1)
    clock.now = 2_004.0
    assert _invocations(collector.close(0.0, before=2_004)) == {2_003.0: 1}


def test_stop_flushes_the_partial_period_and_anything_left() -> None:
    clock = Clock(3_000.2)
    collector = MetricsCollector(_endpoints(), 0.5, clock)
    _record(collector, 2)
    clock.now = 3_000.7
    _record(collector, 1)
    clock.now = 3_000.9
    snapshots = collector.close(0.0)  # stopping: everything, the current period too
    assert _invocations(snapshots) == {3_000.0: 2, 3_000.5: 1}
    assert snapshots[-1].end == 3_000.9
    assert collector.periods == {}


def test_publish_loop_sends_every_period_with_its_own_timestamp() -> None:
    """The loop itself, against the wall clock: responses recorded in two periods, the
    first close only after both (as when the loop starts late), then stop."""

    class Sink:
        def __init__(self) -> None:
            self.calls: list[dict] = []

        def publish(self, data: dict) -> None:
            self.calls.append(data)

    async def scenario() -> dict[dt.datetime, float]:
        clock = Clock(5_000.2)
        endpoints = _endpoints()
        collector = MetricsCollector(endpoints, 1.0, clock)
        sink = Sink()
        stop = asyncio.Event()
        _record(collector, 2)  # period 5000
        clock.now = 5_001.5
        _record(collector, 3)  # period 5001, before the loop's first turn
        task = asyncio.create_task(publish_loop(collector, sink, endpoints, "values", stop))
        await asyncio.sleep(0.05)  # the loop waits for 5002 on the wall clock
        assert sink.calls == []
        clock.now = 5_002.01
        await asyncio.sleep(0.6)  # its timer (0.5 s on the loop's clock) fires, it closes
        stop.set()
        await task
        counts: dict[dt.datetime, float] = {}
        for call in sink.calls:
            for datum in call["AWS/SageMaker"]:
                if datum["MetricName"] == "Invocations":
                    counts[datum["Timestamp"]] = counts.get(datum["Timestamp"], 0) + sum(
                        datum["Counts"]
                    )
        return counts

    stamp = lambda t: dt.datetime.fromtimestamp(t, tz=dt.UTC)  # noqa: E731
    assert asyncio.run(scenario()) == {stamp(5_000): 2.0, stamp(5_001): 3.0}


def test_a_response_in_an_already_closed_period_still_goes_out() -> None:
    """The wall clock stepped back: a second datum for that period, nothing lost."""
    clock = Clock(4_000.5)
    collector = MetricsCollector(_endpoints(), 1.0, clock)
    _record(collector, 1)
    clock.now = 4_001.0
    assert _invocations(collector.close(0.0, before=4_001)) == {4_000.0: 1}
    clock.now = 4_000.8
    _record(collector, 1)
    clock.now = 4_002.0
    snapshots = collector.close(0.0, before=4_002)
    assert _invocations(snapshots) == {4_000.0: 1}
    late = build_metric_data(snapshots[0], _endpoints(), "statistics")
    assert late["/aws/sagemaker/Endpoints"] == []  # its utilisation went out already
    assert late["AWS/SageMaker"][0]["StatisticValues"]["Sum"] == 1


def test_the_truth_per_period_outlives_publishing() -> None:
    """Every response stays counted by its period after the period went out, so a test
    can compare a CloudWatch Sum over any whole periods with what was served in them."""
    clock = Clock(1_764_000_000.5)  # an epoch of our time: keys keep every digit
    collector = MetricsCollector(_endpoints(), 1.0, clock)
    _record(collector, 2)
    clock.now += 1
    _record(collector, 3)
    clock.now += 1
    collector.close(0.0, before=1_764_000_002)
    assert collector.invocations_by_period() == {"e": {"1764000000": 2, "1764000001": 3}}
