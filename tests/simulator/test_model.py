"""The queueing model in-process: capacity, saturation, queueing delay, timeouts, CPU."""

from __future__ import annotations

import asyncio
import random
import statistics

import pytest

from endpoint_loadtest.simulator.config import ServiceTime, VariantConfig
from endpoint_loadtest.simulator.model import OK, OVERLOADED, TIMEOUT, Variant, service_time_sampler


def _variant(**kw) -> Variant:
    defaults = dict(
        instances=1,
        vcpus=2,
        queue_depth=4,
        service_time=ServiceTime("constant", 20.0, 20.0),
        overhead_ms=0.0,
    )
    defaults.update(kw)
    return Variant(VariantConfig(**defaults), random.Random(1), 0.0)


async def _offer(variant: Variant, rate: float, seconds: float) -> list:
    """Open-loop arrivals at a fixed rate; returns every outcome."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    count = int(rate * seconds)
    for i in range(count):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(variant.invoke(variant.draw_service_s())))
    return await asyncio.gather(*tasks)


def test_below_capacity_everything_is_served_without_queueing() -> None:
    variant = _variant()  # capacity 2 / 20 ms = 100 req/s
    outcomes = asyncio.run(_offer(variant, rate=50, seconds=1.0))
    assert all(o.kind == OK for o in outcomes)
    assert max(o.queue_s for o in outcomes) < 0.015


def test_above_capacity_throughput_saturates_and_excess_is_turned_away() -> None:
    variant = _variant()  # capacity 100 req/s, 4 may wait
    outcomes = asyncio.run(_offer(variant, rate=300, seconds=1.0))
    served = sum(o.kind == OK for o in outcomes)
    rejected = sum(o.kind == OVERLOADED for o in outcomes)
    assert served + rejected == len(outcomes) == 300
    # 1 s of arrivals: ~100 served in that second, plus what was queued or in service
    assert 95 <= served <= 115, served
    waits = [o.queue_s for o in outcomes if o.kind == OK]
    # a full queue of 4 ahead on 2 workers = 2 service times of waiting
    assert 0.03 <= max(waits) <= 0.05
    assert statistics.median(waits) > 0.02


def test_more_instances_reach_more_throughput() -> None:
    variant = _variant(instances=3)  # 300 req/s
    outcomes = asyncio.run(_offer(variant, rate=250, seconds=1.0))
    assert all(o.kind == OK for o in outcomes)
    counts = [sum(o.instance == i for o in outcomes) for i in range(3)]
    assert min(counts) > 60, counts  # least-outstanding spreads the work


def test_zero_queue_depth_rejects_once_workers_are_busy() -> None:
    variant = _variant(vcpus=1, queue_depth=0)

    async def burst():
        return await asyncio.gather(*(variant.invoke(0.02) for _ in range(3)))

    kinds = [o.kind for o in asyncio.run(burst())]
    assert kinds == [OK, OVERLOADED, OVERLOADED]


def test_wait_beyond_the_model_timeout_times_out_and_frees_the_worker() -> None:
    variant = _variant(vcpus=1, queue_depth=10, model_timeout_s=0.05)

    async def scenario():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        first, second = await asyncio.gather(variant.invoke(0.2), variant.invoke(0.01))
        after = await variant.invoke(0.01)
        return first, second, after, loop.time() - t0

    first, second, after, elapsed = asyncio.run(scenario())
    assert first.kind == TIMEOUT and first.service_s == pytest.approx(0.05, abs=0.01)
    assert second.kind == TIMEOUT and second.model_latency_s == pytest.approx(0.05, abs=2e-3)
    assert after.kind == OK
    assert elapsed < 0.15
    assert variant.instances[0].outstanding == 0


def test_cancelled_requests_release_their_worker_or_queue_slot() -> None:
    variant = _variant(vcpus=1, queue_depth=2)

    async def scenario():
        running = asyncio.create_task(variant.invoke(0.05))
        waiting = asyncio.create_task(variant.invoke(0.05))
        await asyncio.sleep(0.01)
        waiting.cancel()
        running.cancel()
        await asyncio.gather(running, waiting, return_exceptions=True)
        return await variant.invoke(0.01)

    assert asyncio.run(scenario()).kind == OK
    assert variant.instances[0].outstanding == 0


def test_busy_seconds_integrate_worker_time() -> None:
    variant = _variant(vcpus=4, queue_depth=0)

    async def scenario():
        await asyncio.gather(*(variant.invoke(0.05) for _ in range(3)))
        return variant.instances[0].take_busy_seconds(asyncio.get_running_loop().time())

    busy = asyncio.run(scenario())
    assert busy == pytest.approx(0.15, rel=0.15)


def test_lognormal_sampler_matches_median_and_p99_and_is_seeded() -> None:
    spec = ServiceTime("lognormal", 20.0, 50.0)
    draw = service_time_sampler(spec, random.Random(7))
    draws = sorted(draw() for _ in range(40000))
    assert draws[len(draws) // 2] == pytest.approx(0.020, rel=0.03)
    assert draws[int(len(draws) * 0.99)] == pytest.approx(0.050, rel=0.06)
    assert statistics.fmean(draws) * 1000 == pytest.approx(spec.mean_ms, rel=0.03)
    replay = service_time_sampler(spec, random.Random(7))
    assert sorted(replay() for _ in range(40000)) == draws


def test_capacity_formula() -> None:
    cfg = VariantConfig(instances=5, vcpus=4, service_time=ServiceTime("constant", 20.0, 20.0))
    assert cfg.capacity_rps == pytest.approx(1000.0)
