"""The event-stream decoder against botocore's own parser, on the same bytes."""

from __future__ import annotations

import random
import struct

import pytest
from botocore.eventstream import EventStreamBuffer

from endpoint_loadtest.loadgen.streaming.eventstream import (
    EventStreamDecoder,
    EventStreamError,
    encode_message,
)

PAYLOAD_PART = {":message-type": "event", ":event-type": "PayloadPart", ":content-type": "x"}


def sample_stream(rng: random.Random, messages: int = 40) -> bytes:
    out = bytearray()
    for index in range(messages):
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
        out += encode_message({**PAYLOAD_PART, "seq": str(index)}, payload)
    out += encode_message(
        {
            ":message-type": "exception",
            ":exception-type": "ModelStreamError",
            ":content-type": "application/json",
        },
        b'{"Message":"boom","ErrorCode":"StreamBroken"}',
    )
    return bytes(out)


def botocore_messages(data: bytes) -> list[tuple[dict, bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(dict(m.headers), m.payload) for m in buffer]


def split_randomly(data: bytes, rng: random.Random) -> list[bytes]:
    pieces, offset = [], 0
    while offset < len(data):
        size = rng.choice((1, 2, 3, 7, 12, 13, 100, 1000))
        pieces.append(data[offset : offset + size])
        offset += size
    return pieces


@pytest.mark.parametrize("seed", range(5))
def test_same_messages_as_botocore_whatever_the_splits(seed: int) -> None:
    rng = random.Random(seed)
    data = sample_stream(rng)
    expected = botocore_messages(data)
    decoder = EventStreamDecoder()
    decoded = []
    for piece in split_randomly(data, rng):
        decoded += [(m.headers, m.payload) for m in decoder.feed(piece)]
    assert decoded == expected
    assert len(decoded) == 41 and decoder.pending == 0
    assert decoded[-1][0][":exception-type"] == "ModelStreamError"


def test_one_byte_at_a_time() -> None:
    data = sample_stream(random.Random(9), messages=3)
    decoder = EventStreamDecoder()
    decoded = [m for byte in data for m in decoder.feed(bytes([byte]))]
    assert [(m.headers, m.payload) for m in decoded] == botocore_messages(data)


def test_incomplete_message_stays_pending() -> None:
    message = encode_message(PAYLOAD_PART, b"hello")
    decoder = EventStreamDecoder()
    assert decoder.feed(message[:-1]) == []
    assert decoder.pending == len(message) - 1
    assert decoder.feed(message[-1:])[0].payload == b"hello"


@pytest.mark.parametrize("where", ["prelude", "message"])
def test_crc_mismatch_is_an_error_for_both_parsers(where: str) -> None:
    message = bytearray(encode_message(PAYLOAD_PART, b"payload"))
    if where == "prelude":
        message[8] ^= 0xFF  # the prelude's CRC
    else:
        message[-6] ^= 0x01  # a payload byte: the message CRC no longer matches
    with pytest.raises(EventStreamError, match=f"{where} CRC"):
        EventStreamDecoder().feed(bytes(message))
    with pytest.raises(Exception, match=r"(?i)checksum|crc"):
        botocore_messages(bytes(message))


def test_impossible_lengths_are_refused() -> None:
    prelude = struct.pack(">II", 10, 0)
    import zlib

    data = prelude + struct.pack(">I", zlib.crc32(prelude))
    with pytest.raises(EventStreamError, match="shorter"):
        EventStreamDecoder().feed(data + b"\0" * 8)
