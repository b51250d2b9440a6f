"""Streaming LLM endpoints in the simulator: continuous batching, prefill, decode, truth.

Each instance of a streaming variant has `slots` sequence slots (a continuous-batching
server's running batch). A request waits (FIFO) for a free slot, then pays a prefill time
that grows with its input length (`prefillMs + prefillMsPerInputToken x input tokens`),
which ends with its first token; every further token takes a decode step of
`decodeMs + decodeMsPerSequence x (other sequences in flight on the instance)`, read at
each step, so the rate changes as sequences join and leave the batch. Steps are scheduled
on deadlines (a wake-up that runs late delays the steps after it, as a slow GPU step
would, and is never made up by a shorter one), and the simulator records each
request's true TTFT and TPOT as it wrote them, for tests to compare with what a client
reports.
"""

from __future__ import annotations

import asyncio
import random
import time
from array import array
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from endpoint_loadtest.simulator.config import ConfigError, _choice, _integer, _mapping, _number
from endpoint_loadtest.simulator.stats import summarize

FORMATS = ("tgi", "jsonlines", "openai")
MAX_RECORDS = 100_000
# mid-stream faults: SageMaker's exception events, the server's in-band error, a cut stream
STREAM_ERRORS = ("ModelStreamError", "InternalStreamFailure", "GenerationError", "TruncatedStream")


@dataclass(frozen=True)
class StreamingConfig:
    format: str = "jsonlines"
    slots: int = 8
    prefill_ms: float = 20.0
    prefill_ms_per_input_token: float = 0.2
    decode_ms: float = 10.0
    decode_ms_per_sequence: float = 0.5
    output_tokens: int = 64  # when the body asks for no maximum
    max_output_tokens: int = 4096
    parts_per_token: int = 2  # PayloadParts each token's bytes are cut into, at random places
    errors: dict[str, float] = field(default_factory=dict)


_FIELDS = {
    "format",
    "slots",
    "prefillMs",
    "prefillMsPerInputToken",
    "decodeMs",
    "decodeMsPerSequence",
    "outputTokens",
    "maxOutputTokens",
    "partsPerToken",
    "errors",
}


def parse_streaming(raw: Any, name: str) -> StreamingConfig | None:
    if raw is None:
        return None
    data = _mapping(raw, name, _FIELDS)
    errors = _mapping(data.get("errors"), f"{name}.errors", set(STREAM_ERRORS))
    rates = {
        code: _number(v, f"{name}.errors.{code}", minimum=0.0, maximum=1.0)
        for code, v in errors.items()
    }
    if sum(rates.values()) > 1.0 + 1e-9:
        raise ConfigError(f"{name}.errors", "the error rates add up to more than 1")
    return StreamingConfig(
        format=_choice(data.get("format", "jsonlines"), f"{name}.format", FORMATS),
        slots=_integer(data.get("slots", 8), f"{name}.slots", minimum=1),
        prefill_ms=_number(data.get("prefillMs", 20.0), f"{name}.prefillMs", minimum=0.0),
        prefill_ms_per_input_token=_number(
            data.get("prefillMsPerInputToken", 0.2), f"{name}.prefillMsPerInputToken", minimum=0.0
        ),
        decode_ms=_number(data.get("decodeMs", 10.0), f"{name}.decodeMs", minimum=0.0),
        decode_ms_per_sequence=_number(
            data.get("decodeMsPerSequence", 0.5), f"{name}.decodeMsPerSequence", minimum=0.0
        ),
        output_tokens=_integer(data.get("outputTokens", 64), f"{name}.outputTokens", minimum=1),
        max_output_tokens=_integer(
            data.get("maxOutputTokens", 4096), f"{name}.maxOutputTokens", minimum=1
        ),
        parts_per_token=_integer(data.get("partsPerToken", 2), f"{name}.partsPerToken", minimum=1),
        errors={k: v for k, v in rates.items() if v > 0},
    )


class SlotInstance:
    """One instance's sequence slots, handed out in arrival order."""

    def __init__(self, index: int, slots: int) -> None:
        self.index = index
        self.slots = slots
        self.active = 0  # sequences holding a slot (prefilling or decoding)
        self.waiters: deque[asyncio.Future[None]] = deque()

    @property
    def load(self) -> int:
        return self.active + len(self.waiters)

    async def acquire(self) -> None:
        if self.active < self.slots and not self.waiters:
            self.active += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(future)
        try:
            await future  # the releaser handed its slot over (active unchanged)
        except asyncio.CancelledError:
            if future in self.waiters:
                self.waiters.remove(future)
            elif future.done() and not future.cancelled():
                self.release()
            raise

    def release(self) -> None:
        while self.waiters:
            future = self.waiters.popleft()
            if not future.done():
                future.set_result(None)
                return
        self.active -= 1


class StreamingVariant:
    """A variant's instances of slots and its draws (seeded: a seed replays)."""

    def __init__(
        self, config: StreamingConfig, instances: int, rng: random.Random, queue_depth: int
    ) -> None:
        self.config = config
        self.rng = rng
        self.queue_depth = queue_depth  # requests that may wait for a slot, per instance
        self.instances = [SlotInstance(i, config.slots) for i in range(instances)]

    def pick(self) -> SlotInstance:
        return min(self.instances, key=lambda i: (i.load, i.index))

    def prefill_s(self, input_tokens: int) -> float:
        cfg = self.config
        return (cfg.prefill_ms + cfg.prefill_ms_per_input_token * input_tokens) / 1000.0

    def decode_s(self, instance: SlotInstance) -> float:
        cfg = self.config
        others = max(instance.active - 1, 0)
        return (cfg.decode_ms + cfg.decode_ms_per_sequence * others) / 1000.0

    def draw_fault(self, tokens: int) -> tuple[str | None, int]:
        """(mid-stream fault or None, tokens sent before it)."""
        draw = self.rng.random()
        for code, rate in self.config.errors.items():
            if draw < rate:
                return code, self.rng.randrange(0, max(tokens, 1))
            draw -= rate
        return None, tokens

    def cuts(self, length: int) -> list[int]:
        """Where to cut one token's bytes into PayloadParts (sorted offsets inside it)."""
        parts = min(self.config.parts_per_token, max(length, 1))
        if parts <= 1:
            return []
        return sorted(self.rng.sample(range(1, length), parts - 1))


def input_tokens_of(document: Any) -> int:
    """Whitespace-separated words of the prompt: the simulator's tokenizer."""
    if not isinstance(document, dict):
        return 0
    texts: list[str] = []
    for key in ("inputs", "prompt"):
        value = document.get(key)
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, list):
            texts += [v for v in value if isinstance(v, str)]
    for message in document.get("messages") or ():
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            texts.append(message["content"])
    return sum(len(text.split()) for text in texts)


def max_tokens_of(document: Any, config: StreamingConfig) -> int:
    asked = None
    if isinstance(document, dict):
        asked = document.get("max_tokens") or document.get("max_completion_tokens")
        parameters = document.get("parameters")
        if asked is None and isinstance(parameters, dict):
            asked = parameters.get("max_new_tokens")
    if not isinstance(asked, int) or isinstance(asked, bool) or asked < 1:
        asked = config.output_tokens
    return min(asked, config.max_output_tokens)


class StreamStats:
    """What the streaming routes served: requests, tokens, and each request's truth."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.completed = 0
        self.by_error: Counter[str] = Counter()
        self.output_tokens = 0  # tokens of completed streams
        self.failed_stream_tokens = 0  # tokens sent in streams that then failed
        self.input_tokens = 0
        self.ttft_ms = array("d")
        self.tpot_ms = array("d")
        # each request's truth, the latest MAX_RECORDS (the summaries above keep them all)
        self.records: deque[dict[str, float | int | str | None]] = deque(maxlen=MAX_RECORDS)

    def record(
        self,
        *,
        arrival: float,
        ttft_s: float | None,
        end_s: float,
        tokens: int,
        input_tokens: int,
        error: str | None,
    ) -> None:
        self.requests += 1
        tpot_ms = None
        if error is None:
            self.completed += 1
            self.output_tokens += tokens
            self.input_tokens += input_tokens
            if ttft_s is not None:
                self.ttft_ms.append(ttft_s * 1000.0)
                if tokens > 1:
                    tpot_ms = (end_s - ttft_s) * 1000.0 / (tokens - 1)
                    self.tpot_ms.append(tpot_ms)
        else:
            self.by_error[error] += 1
            self.failed_stream_tokens += tokens
        self.records.append(
            {
                "arrival": arrival,
                "at": time.time(),
                "ttftMs": None if ttft_s is None else ttft_s * 1000.0,
                "tpotMs": tpot_ms,
                "latencyMs": end_s * 1000.0,
                "outputTokens": tokens,
                "inputTokens": input_tokens,
                "error": error,
            }
        )

    def to_dict(self, records: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = {
            "requests": self.requests,
            "completed": self.completed,
            "by_error": dict(sorted(self.by_error.items())),
            "output_tokens": self.output_tokens,
            "failed_stream_tokens": self.failed_stream_tokens,
            "input_tokens": self.input_tokens,
            "ttft_ms": summarize(self.ttft_ms),
            "tpot_ms": summarize(self.tpot_ms),
        }
        if records:
            result["records"] = list(self.records)
        return result
