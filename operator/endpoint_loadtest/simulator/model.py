"""The queueing model of an endpoint: variants of instances, each with `vcpus` workers.

A request routed to a variant goes to one instance (least outstanding requests by
default), takes a free worker or waits in that instance's FIFO queue (at most
`queueDepth` waiting), then holds the worker for a service time drawn from the
variant's distribution. Capacity is instances x vcpus / mean service time; above it the
queues fill (latency grows by up to queueDepth x mean / vcpus) and then requests are
turned away (overloaded). A request whose queue wait plus service passes the model
timeout (60 s on SageMaker) gets a timeout; the worker is freed at the deadline.
Busy worker-seconds are integrated per instance for CPUUtilization.
Everything runs on the asyncio loop: waiting is a future, service is asyncio.sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from endpoint_loadtest.simulator.config import EndpointConfig, ServiceTime, VariantConfig

OK = "ok"
OVERLOADED = "overloaded"
TIMEOUT = "timeout"


@dataclass(slots=True)
class Outcome:
    """What happened to one request inside the model (times in seconds)."""

    kind: str
    instance: int
    queue_s: float = 0.0
    service_s: float = 0.0

    @property
    def model_latency_s(self) -> float:
        """Time inside the container: queue wait plus service, as ModelLatency measures."""
        return self.queue_s + self.service_s


def service_time_sampler(spec: ServiceTime, rng: random.Random) -> Callable[[], float]:
    """A function drawing one service time in seconds."""
    median = spec.median_ms / 1000.0
    if spec.distribution == "constant":
        return lambda: median
    if spec.distribution == "exponential":
        mean = median / math.log(2)
        return lambda: rng.expovariate(1.0 / mean) if mean > 0 else 0.0
    mu, sigma = math.log(median), spec.sigma
    return lambda: rng.lognormvariate(mu, sigma)


class Instance:
    """One instance: `vcpus` workers and a bounded FIFO of waiting requests."""

    __slots__ = (
        "_busy_integral",
        "_last_change",
        "busy",
        "index",
        "queue_depth",
        "vcpus",
        "waiters",
    )

    def __init__(self, index: int, vcpus: int, queue_depth: int, now: float) -> None:
        self.index = index
        self.vcpus = vcpus
        self.queue_depth = queue_depth
        self.busy = 0
        self.waiters: deque[asyncio.Future[bool]] = deque()
        self._busy_integral = 0.0
        self._last_change = now

    @property
    def outstanding(self) -> int:
        return self.busy + len(self.waiters)

    def _account(self, now: float) -> None:
        self._busy_integral += self.busy * (now - self._last_change)
        self._last_change = now

    def take_busy_seconds(self, now: float) -> float:
        """Busy worker-seconds since the last call (for CPUUtilization)."""
        self._account(now)
        value, self._busy_integral = self._busy_integral, 0.0
        return value

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)  # hand the worker over; busy count unchanged
                return
        self._account(loop.time())
        self.busy -= 1

    def _expire(self, waiter: asyncio.Future[bool]) -> None:
        if not waiter.done():
            waiter.set_result(False)
            with contextlib.suppress(ValueError):
                self.waiters.remove(waiter)

    async def process(self, service_s: float, timeout_s: float) -> Outcome:
        loop = asyncio.get_running_loop()
        start = loop.time()
        if self.busy < self.vcpus:
            self._account(start)
            self.busy += 1
        elif len(self.waiters) >= self.queue_depth:
            return Outcome(OVERLOADED, self.index)
        else:
            waiter: asyncio.Future[bool] = loop.create_future()
            self.waiters.append(waiter)
            timer = loop.call_at(start + timeout_s, self._expire, waiter)
            try:
                granted = await waiter
            except asyncio.CancelledError:
                timer.cancel()
                if waiter.done() and not waiter.cancelled() and waiter.result():
                    self._release(loop)
                elif waiter in self.waiters:
                    self.waiters.remove(waiter)
                raise
            timer.cancel()
            if not granted:
                return Outcome(TIMEOUT, self.index, queue_s=timeout_s)
        now = loop.time()
        queue_s = now - start
        remaining = timeout_s - queue_s
        work = service_s if service_s <= remaining else max(remaining, 0.0)
        try:
            if work > 0:
                await asyncio.sleep(work)
        finally:
            self._release(loop)
        return Outcome(OK if service_s <= remaining else TIMEOUT, self.index, queue_s, work)


class Variant:
    """A production variant: its instances, router and service-time distribution."""

    def __init__(self, config: VariantConfig, rng: random.Random, now: float) -> None:
        self.config = config
        self.rng = rng
        self.instances = [
            Instance(i, config.vcpus, config.queue_depth, now) for i in range(config.instances)
        ]
        self.draw_service_s = service_time_sampler(config.service_time, rng)
        self._next = 0

    def pick_instance(self) -> Instance:
        instances = self.instances
        count = len(instances)
        if count == 1:
            return instances[0]
        routing = self.config.routing
        if routing == "random":
            return instances[self.rng.randrange(count)]
        start = self._next
        self._next = (start + 1) % count
        if routing == "round-robin":
            return instances[start]
        # least outstanding requests; ties go round-robin so idle instances share work
        best = instances[start]
        for offset in range(1, count):
            candidate = instances[(start + offset) % count]
            if candidate.outstanding < best.outstanding:
                best = candidate
        return best

    async def invoke(self, service_s: float) -> Outcome:
        return await self.pick_instance().process(service_s, self.config.model_timeout_s)


class TokenBucket:
    """Requests per second limit with a burst; `rps <= 0` never throttles."""

    def __init__(self, rps: float, burst: float, now: float) -> None:
        self.rps = rps
        self.burst = burst
        self.tokens = burst
        self.last = now

    def take(self, now: float) -> bool:
        if self.rps <= 0:
            return True
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rps)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Endpoint:
    """An endpoint: its variants (chosen by weight or TargetVariant) and throttle."""

    def __init__(self, config: EndpointConfig, seed: int | None, now: float) -> None:
        self.config = config
        self.name = config.name
        self.rng = random.Random(None if seed is None else f"{seed}/{config.name}")
        self.variants = {
            v.name: Variant(
                v, random.Random(None if seed is None else f"{seed}/{config.name}/{v.name}"), now
            )
            for v in config.variants
        }
        self._weighted = [self.variants[v.name] for v in config.variants if v.weight > 0]
        self._weights = [v.config.weight for v in self._weighted]
        self.throttle = TokenBucket(config.throttle.rps, config.throttle.burst, now)

    def choose_variant(self) -> Variant:
        if len(self._weighted) == 1:
            return self._weighted[0]
        return self.rng.choices(self._weighted, weights=self._weights)[0]
