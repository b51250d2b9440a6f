"""An incremental decoder of the AWS event-stream encoding (application/vnd.amazon.eventstream).

InvokeEndpointWithResponseStream answers with a sequence of messages: a 12-byte prelude
(total length, headers length, CRC32 of those 8 bytes), the headers, the payload and a
CRC32 of everything before it. The bytes arrive in HTTP chunks that do not follow message
boundaries, so the decoder buffers and yields each message once it is whole, checking both
CRCs. botocore has the same parser (botocore.eventstream); this one is kept here because
the fast client reads raw bytes from geventhttpclient and must not pay for botocore's
per-event parsing layers. tests/unit/test_eventstream.py checks both agree on the same bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from zlib import crc32

PRELUDE_LENGTH = 12
MESSAGE_OVERHEAD = 16  # prelude + message CRC
MAX_MESSAGE_LENGTH = 16 * 1024 * 1024  # botocore's limit
MAX_HEADERS_LENGTH = 128 * 1024

# header value types (botocore.eventstream)
_BOOL_TRUE, _BOOL_FALSE, _BYTE, _SHORT, _INT, _LONG, _BYTES, _STRING, _TIMESTAMP, _UUID = range(10)
_FIXED = {_BYTE: ">b", _SHORT: ">h", _INT: ">i", _LONG: ">q", _TIMESTAMP: ">q"}


class EventStreamError(Exception):
    """The bytes are not a valid event stream (bad CRC, impossible lengths)."""


@dataclass(frozen=True, slots=True)
class Message:
    headers: dict[str, object]
    payload: bytes

    @property
    def message_type(self) -> str:
        return str(self.headers.get(":message-type", ""))

    @property
    def event_type(self) -> str:
        return str(self.headers.get(":event-type", ""))


def _headers(data: bytes) -> dict[str, object]:
    headers: dict[str, object] = {}
    offset, end = 0, len(data)
    while offset < end:
        name_length = data[offset]
        offset += 1
        name = data[offset : offset + name_length].decode("utf-8")
        offset += name_length
        kind = data[offset]
        offset += 1
        value: object
        if kind == _BOOL_TRUE:
            value = True
        elif kind == _BOOL_FALSE:
            value = False
        elif kind in _FIXED:
            fmt = _FIXED[kind]
            size = struct.calcsize(fmt)
            (value,) = struct.unpack_from(fmt, data, offset)
            offset += size
        elif kind in (_BYTES, _STRING):
            (length,) = struct.unpack_from(">H", data, offset)
            offset += 2
            raw = data[offset : offset + length]
            offset += length
            value = raw.decode("utf-8") if kind == _STRING else bytes(raw)
        elif kind == _UUID:
            value = bytes(data[offset : offset + 16])
            offset += 16
        else:
            raise EventStreamError(f"unknown header value type {kind}")
        headers[name] = value
    if offset != end:
        raise EventStreamError("headers overrun their declared length")
    return headers


class EventStreamDecoder:
    """Feed bytes as they arrive; get every message completed by them, CRCs checked."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of an incomplete message still buffered (non-zero at the end: truncated)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        buffer = self._buffer
        buffer += data
        messages: list[Message] = []
        while len(buffer) >= PRELUDE_LENGTH:
            total, headers_length, prelude_crc = struct.unpack_from(">III", buffer, 0)
            if crc32(memoryview(buffer)[:8]) != prelude_crc:
                raise EventStreamError("prelude CRC mismatch")
            if total > MAX_MESSAGE_LENGTH or headers_length > MAX_HEADERS_LENGTH:
                raise EventStreamError(f"message of {total} bytes exceeds the limits")
            if total < MESSAGE_OVERHEAD + headers_length:
                raise EventStreamError("message length shorter than its headers")
            if len(buffer) < total:
                break
            view = memoryview(buffer)
            (message_crc,) = struct.unpack_from(">I", buffer, total - 4)
            if crc32(view[: total - 4]) != message_crc:
                view.release()
                raise EventStreamError("message CRC mismatch")
            headers_end = PRELUDE_LENGTH + headers_length
            headers = _headers(bytes(view[PRELUDE_LENGTH:headers_end]))
            payload = bytes(view[headers_end : total - 4])
            view.release()
            del buffer[:total]
            messages.append(Message(headers, payload))
        return messages


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message with string headers (what SageMaker sends), CRCs included."""
    encoded = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
        encoded += bytes([len(raw_name)]) + raw_name + bytes([_STRING])
        encoded += struct.pack(">H", len(raw_value)) + raw_value
    total = MESSAGE_OVERHEAD + len(encoded) + len(payload)
    prelude = struct.pack(">II", total, len(encoded))
    message = prelude + struct.pack(">I", crc32(prelude)) + bytes(encoded) + payload
    return message + struct.pack(">I", crc32(message))
