"""One streamed request's figures: time to first token, time per output token, gaps.

Definitions (those of vLLM's benchmark_serving and genai-perf):
- TTFT: from the send to the first chunk carrying a non-empty token;
- ITL: every gap between successive chunks carrying tokens, after the first;
- TPOT: (end of stream - first token) / (output tokens - 1), for more than one token;
- output tokens: the server's count when the stream carries one (TGI/LMI `details`,
  OpenAI `usage`), else the token events counted (source `events`);
- tokens/s of the request: output tokens / (end of stream - send).
A chunk is one line (HTTP) or one event-stream message (SageMaker), timed when the
client has read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from endpoint_loadtest.loadgen.errors import RequestFailure
from endpoint_loadtest.loadgen.streaming.formats import (
    AUTO,
    TRUNCATED_STREAM,
    LineEvent,
    LineParser,
)

USAGE, EVENTS = "usage", "events"
EMPTY_STREAM = "EmptyStream"  # a complete stream without a single non-empty token


@dataclass(slots=True)
class StreamFigures:
    ttft_ms: float
    latency_ms: float
    output_tokens: int
    source: str  # USAGE or EVENTS
    itl_ms: list[float] = field(default_factory=list)
    input_tokens: int | None = None

    @property
    def tpot_ms(self) -> float | None:
        if self.output_tokens <= 1:
            return None
        return (self.latency_ms - self.ttft_ms) / (self.output_tokens - 1)

    @property
    def tokens_per_second(self) -> float | None:
        if self.latency_ms <= 0:
            return None
        return self.output_tokens * 1000.0 / self.latency_ms


class StreamTimer:
    """Fed with the stream's bytes and the time they arrived (perf_counter seconds)."""

    __slots__ = (
        "_first",
        "_input",
        "_last",
        "_reported",
        "counted",
        "final",
        "gaps",
        "parser",
        "sent",
    )

    def __init__(self, sent: float, stream_format: str = AUTO) -> None:
        self.sent = sent
        self.parser = LineParser(stream_format)
        self.counted = 0
        self.final = False
        self.gaps: list[float] = []
        self._first: float | None = None
        self._last = 0.0
        self._reported: int | None = None
        self._input: int | None = None

    def feed(self, data: bytes, now: float) -> None:
        """Raises RequestFailure when the stream reports an error."""
        self._events(self.parser.feed(data), now)

    def _events(self, events: list[LineEvent], now: float) -> None:
        tokens = 0
        text = False
        for event in events:
            if event.error is not None:
                raise RequestFailure(event.error)
            tokens += event.tokens
            text = text or event.text
            if event.output_tokens is not None:
                self._reported = event.output_tokens
            if event.input_tokens is not None:
                self._input = event.input_tokens
            if event.final:
                self.final = True
        if not tokens:
            return
        self.counted += tokens
        if self._first is None:
            if not text:
                return  # empty tokens before the first real one: counted, not timed
            self._first = now
        else:
            self.gaps.append((now - self._last) * 1000.0)
        self._last = now

    def finish(self, now: float) -> StreamFigures:
        """The figures once the stream ended; TruncatedStream without its final event."""
        self._events(self.parser.flush(), now)
        if not self.final:
            raise RequestFailure(TRUNCATED_STREAM)
        if self._first is None:
            raise RequestFailure(EMPTY_STREAM)
        reported = self._reported
        return StreamFigures(
            ttft_ms=(self._first - self.sent) * 1000.0,
            latency_ms=(now - self.sent) * 1000.0,
            output_tokens=reported if reported is not None else self.counted,
            source=USAGE if reported is not None else EVENTS,
            itl_ms=self.gaps,
            input_tokens=self._input,
        )
