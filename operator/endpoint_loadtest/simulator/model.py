"""The queueing model of an endpoint: variants of instances, each with `vcpus` workers.

A request routed to a variant goes to one instance (least outstanding requests by
default), takes a free worker or waits in that instance's FIFO queue (at most
`queueDepth` waiting), then holds the worker for a service time drawn from the
variant's distribution (drawn at arrival, in arrival order, so a seed replays).
Capacity is instances x vcpus / mean service time; above it the queues fill (latency
grows by up to queueDepth x mean / vcpus) and then requests are turned away
(overloaded). A request whose queue wait plus service passes the model timeout (60 s
on SageMaker) gets a timeout; the worker is freed at the deadline.
Busy worker-seconds are integrated per instance for CPUUtilization.
Everything runs on the asyncio loop: one asyncio.sleep per request, until its end.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
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
    """One instance: `vcpus` workers serving a FIFO queue of at most `queue_depth` waiting.

    The queue is computed, not enacted: on arrival a request is given the earliest time
    a worker frees up (a heap of worker free times), so its start and end are known at
    once and it sleeps until its end on the loop's clock. A loop that runs late under a
    flood of requests therefore delays each response by its lateness once, instead of
    compounding it down the queue as handing workers over at wake-up would. Like a real
    model server, a worker keeps working on a request whose client went away.
    """

    __slots__ = ("_cut", "_intervals", "free", "index", "outstanding", "queue_depth", "waiting")

    def __init__(self, index: int, vcpus: int, queue_depth: int, now: float) -> None:
        self.index = index
        self.queue_depth = queue_depth
        self.free = [now] * vcpus  # heap: when each worker is next free
        self.waiting: list[float] = []  # heap: when each waiting request leaves the queue
        self.outstanding = 0  # requests admitted and not yet answered (for routing)
        self._intervals: list[tuple[float, float]] = []  # worker busy spans not yet counted
        self._cut = now

    @property
    def vcpus(self) -> int:
        return len(self.free)

    def take_busy_seconds(self, now: float) -> float:
        """Busy worker-seconds since the last call (for CPUUtilization)."""
        busy, keep, cut = 0.0, [], self._cut
        for start, end in self._intervals:
            lo, hi = max(start, cut), min(end, now)
            if hi > lo:
                busy += hi - lo
            if end > now:
                keep.append((start, end))
        self._intervals, self._cut = keep, now
        return busy

    async def process(self, service_s: float, timeout_s: float) -> Outcome:
        loop = asyncio.get_running_loop()
        arrival = loop.time()
        waiting = self.waiting
        while waiting and waiting[0] <= arrival:
            heapq.heappop(waiting)
        start = max(self.free[0], arrival)
        if start > arrival and len(waiting) >= self.queue_depth:
            return Outcome(OVERLOADED, self.index)
        deadline = arrival + timeout_s
        if start >= deadline:  # would still be queued at the deadline: never reaches a worker
            heapq.heappush(waiting, deadline)
            await self._until(loop, deadline)
            return Outcome(TIMEOUT, self.index, queue_s=timeout_s)
        end = min(start + service_s, deadline)
        heapq.heapreplace(self.free, end)
        if start > arrival:
            heapq.heappush(waiting, start)
        self._intervals.append((start, end))
        await self._until(loop, end)
        kind = OK if start + service_s <= deadline else TIMEOUT
        return Outcome(kind, self.index, start - arrival, end - start)

    async def _until(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self.outstanding += 1
        try:
            delay = when - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        finally:
            self.outstanding -= 1


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
