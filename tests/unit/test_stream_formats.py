"""Token streams of each format, split anywhere, give the same figures; errors by type."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from endpoint_loadtest.loadgen.config import Body
from endpoint_loadtest.loadgen.errors import RequestFailure
from endpoint_loadtest.loadgen.streaming.bodies import BodyError, prepare_body
from endpoint_loadtest.loadgen.streaming.formats import LineParser
from endpoint_loadtest.loadgen.streaming.timing import EVENTS, USAGE, StreamTimer

FIXTURES = Path(__file__).parent.parent / "fixtures" / "streams"

# fixture, format, token events (chunks carrying tokens), the server's count
CASES = [
    ("tgi.sse", "tgi", 7, 7),
    ("jsonlines.jsonl", "jsonlines", 5, 5),
    ("openai.sse", "openai", 4, 4),
]


def feed_in_pieces(data: bytes, stream_format: str, cut: list[int]) -> StreamTimer:
    """Feed the bytes cut at the given offsets, one millisecond per piece."""
    timer = StreamTimer(0.0, stream_format)
    bounds = [0, *sorted(cut), len(data)]
    for number, (start, end) in enumerate(itertools.pairwise(bounds), start=1):
        timer.feed(data[start:end], number / 1000.0)
    return timer


@pytest.mark.parametrize(("name", "fmt", "events", "served"), CASES)
@pytest.mark.parametrize("declared", ["as-is", "auto"])
def test_every_split_gives_the_same_tokens(
    name: str, fmt: str, events: int, served: int, declared: str
) -> None:
    data = (FIXTURES / name).read_bytes()
    rng = random.Random(name)
    for _ in range(200):
        cut = rng.sample(range(1, len(data)), rng.randrange(0, 30))
        timer = feed_in_pieces(data, fmt if declared == "as-is" else "auto", cut)
        figures = timer.finish(1.0)
        assert timer.counted == events
        assert figures.output_tokens == served
        assert figures.source == USAGE
        assert timer.parser.format == fmt


def test_timing_definitions() -> None:
    """TTFT from the send to the first non-empty token; TPOT over the tokens after it."""
    timer = StreamTimer(10.0, "openai")
    lines = (FIXTURES / "openai.sse").read_bytes().split(b"\n\n")
    # empty role chunk at 10.05 (not a token), tokens at 10.1, 10.2, 10.3, 10.4; end 10.5
    times = [10.05, 10.1, 10.2, 10.3, 10.4, 10.45, 10.5]
    for line, now in zip(lines, times, strict=False):
        timer.feed(line + b"\n\n", now)
    figures = timer.finish(10.5)
    assert figures.ttft_ms == pytest.approx(100.0)
    assert figures.latency_ms == pytest.approx(500.0)
    assert figures.output_tokens == 4
    assert figures.tpot_ms == pytest.approx((500.0 - 100.0) / 3)
    assert figures.itl_ms == pytest.approx([100.0, 100.0, 100.0])
    assert figures.input_tokens == 12
    assert figures.tokens_per_second == pytest.approx(8.0)


def test_without_usage_the_events_are_counted() -> None:
    data = b"".join(b'data: {"choices":[{"delta":{"content":"t%d"}}]}\n\n' % i for i in range(6))
    timer = StreamTimer(0.0, "openai")
    timer.feed(data + b"data: [DONE]\n\n", 0.1)
    figures = timer.finish(0.2)
    assert (figures.output_tokens, figures.source) == (6, EVENTS)


def test_lmi_error_token_is_a_generation_error() -> None:
    timer = StreamTimer(0.0, "jsonlines")
    with pytest.raises(RequestFailure, match="GenerationError"):
        timer.feed((FIXTURES / "jsonlines-error.jsonl").read_bytes(), 0.1)


@pytest.mark.parametrize(
    ("fmt", "line"),
    [
        ("tgi", b'data:{"error":"Request failed during generation","error_type":"generation"}\n'),
        ("openai", b'data: {"error":{"message":"overloaded","type":"server_error"}}\n'),
    ],
)
def test_error_events_are_generation_errors(fmt: str, line: bytes) -> None:
    timer = StreamTimer(0.0, fmt)
    with pytest.raises(RequestFailure, match="GenerationError"):
        timer.feed(line, 0.1)


@pytest.mark.parametrize(("name", "fmt", "events", "served"), CASES)
def test_a_stream_cut_before_its_final_event_is_truncated(
    name: str, fmt: str, events: int, served: int
) -> None:
    data = (FIXTURES / name).read_bytes().rstrip()
    last_event = data.rfind(b"\n")
    timer = StreamTimer(0.0, fmt)
    timer.feed(data[:last_event], 0.1)
    with pytest.raises(RequestFailure, match="TruncatedStream"):
        timer.finish(0.2)


def test_malformed_line_is_named() -> None:
    with pytest.raises(RequestFailure, match="MalformedStream"):
        StreamTimer(0.0, "tgi").feed(b"data:{not json\n", 0.1)


def test_comments_and_sse_fields_are_skipped() -> None:
    parser = LineParser("tgi")
    events = parser.feed(b": ping\nevent: message\nid: 3\nretry: 10\n\n")
    assert all(e.tokens == 0 and not e.final and e.error is None for e in events)


def test_bodies_carry_the_stream_settings() -> None:
    openai = prepare_body(Body("chat", b'{"messages":[]}', max_tokens=64), "auto", True)
    assert openai.data == (
        b'{"messages":[],"stream":true,"stream_options":{"include_usage":true},"max_tokens":64}'
    )
    tgi = prepare_body(Body("p", b'{"inputs":"hi","parameters":{"top_p":0.9}}', 1, 32), "tgi", True)
    assert (
        tgi.data == b'{"inputs":"hi","parameters":{"top_p":0.9,"max_new_tokens":32},"stream":true}'
    )
    kept = prepare_body(
        Body("p", b'{"inputs":"hi","parameters":{"max_new_tokens":8}}', 1, 32), "jsonlines", True
    )
    assert b'"max_new_tokens":8' in kept.data
    with pytest.raises(BodyError, match="'raw'"):
        prepare_body(Body("raw", b"plain text", max_tokens=5), "tgi", True)
