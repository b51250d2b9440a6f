"""The token stream's lines: TGI and OpenAI server-sent events, LMI JSON lines.

A stream is a sequence of lines, whatever carries them (HTTP chunks, event-stream
PayloadParts); a line may be split across carriers, so bytes are buffered until a newline.
What a line means:

- `tgi`: `data:{"token":{...},"generated_text":null,"details":null}` per token; the last
  carries `generated_text` and `details.generated_tokens`; lines starting with `:` are
  comments (pings); `data:{"error": ...}` is an error inside the stream.
- `jsonlines` (LMI / DJL rolling batch): `{"token":{...}}` per line (with a `data:` prefix
  when the server formats SSE); the last adds `generated_text` and `details`; an error
  after the first token is a token with `id: -1` and `details.finish_reason: "error"`.
- `openai`: `data: {"choices":[{"delta":{"content":...}}]}` (or `text` for completions),
  a `usage` chunk when asked for, then `data: [DONE]`; `{"error": ...}` is an error.
- `auto`: the first JSON event decides (`choices`/`object` -> openai, `token` -> tgi or
  jsonlines by the `data:` prefix).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

TGI, JSONLINES, OPENAI, AUTO = "tgi", "jsonlines", "openai", "auto"
FORMATS = (TGI, JSONLINES, OPENAI, AUTO)

GENERATION_ERROR = "GenerationError"  # an error the model server wrote into the stream
TRUNCATED_STREAM = "TruncatedStream"  # the stream ended without its final event
MALFORMED_STREAM = "MalformedStream"  # a line that is not what the format says


@dataclass(slots=True)
class LineEvent:
    """What one line meant: tokens it carried, whether it ended the stream, counts sent."""

    tokens: int = 0  # tokens carried by this line (0 for pings, usage, [DONE])
    text: bool = False  # at least one of them has non-empty text
    final: bool = False  # the stream's last event (details / [DONE])
    output_tokens: int | None = None  # the server's count, when this line carries it
    input_tokens: int | None = None
    error: str | None = None  # a failure name when the line reports an error


PING = LineEvent()


def detect(obj: Any, sse: bool) -> str:
    """The format of a stream from its first JSON event."""
    if isinstance(obj, dict) and (
        "choices" in obj
        or str(obj.get("object", "")).startswith(("chat.completion", "text_completion"))
    ):
        return OPENAI
    return TGI if sse else JSONLINES


def _token_line(obj: dict[str, Any]) -> LineEvent:
    """tgi and jsonlines: one token per line, the server's count in `details`."""
    if "error" in obj and "token" not in obj:
        return LineEvent(error=GENERATION_ERROR)
    token = obj.get("token")
    details = obj.get("details")
    event = LineEvent()
    if isinstance(details, dict) and details.get("finish_reason") == "error":
        return LineEvent(error=GENERATION_ERROR, final=True)  # LMI: a token with id -1
    if isinstance(token, dict):
        event.tokens = 1
        event.text = bool(token.get("text"))
    if isinstance(details, dict) or obj.get("generated_text") is not None:
        event.final = True
        if isinstance(details, dict):
            generated = details.get("generated_tokens")
            if isinstance(generated, int):
                event.output_tokens = generated
    return event


def _openai_line(obj: dict[str, Any]) -> LineEvent:
    if "error" in obj:
        return LineEvent(error=GENERATION_ERROR)
    event = LineEvent()
    for choice in obj.get("choices") or ():
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else choice.get("text")
        if content:
            event.tokens += 1
            event.text = True
        if choice.get("finish_reason") == "error":
            event.error = GENERATION_ERROR
    usage = obj.get("usage")
    if isinstance(usage, dict):
        completion, prompt = usage.get("completion_tokens"), usage.get("prompt_tokens")
        event.output_tokens = completion if isinstance(completion, int) else None
        event.input_tokens = prompt if isinstance(prompt, int) else None
    return event


class LineParser:
    """Buffers bytes, splits lines, and interprets each in the stream's format."""

    __slots__ = ("_buffer", "format")

    def __init__(self, stream_format: str = AUTO) -> None:
        if stream_format not in FORMATS:
            raise ValueError(f"unknown stream format {stream_format!r}")
        self.format = stream_format
        self._buffer = b""

    @property
    def pending(self) -> bytes:
        """Bytes after the last newline (a line still incomplete)."""
        return self._buffer

    def feed(self, data: bytes) -> list[LineEvent]:
        """The events of every line the new bytes complete."""
        buffer = self._buffer + data if self._buffer else data
        if b"\n" not in buffer:
            self._buffer = buffer
            return []
        *lines, self._buffer = buffer.split(b"\n")
        return [self.line(line) for line in lines]

    def flush(self) -> list[LineEvent]:
        """The last line when the stream ends without a newline."""
        rest, self._buffer = self._buffer, b""
        return [self.line(rest)] if rest.strip() else []

    def line(self, raw: bytes) -> LineEvent:
        line = raw.strip()
        if not line or line[:1] == b":":
            return PING
        sse = line[:5] == b"data:"
        if sse:
            line = line[5:].strip()
            if line == b"[DONE]":
                return LineEvent(final=True)
        elif line[:6] in (b"event:", b"retry:") or line[:3] == b"id:":
            return PING
        try:
            obj = json.loads(line)
        except ValueError:
            return LineEvent(error=MALFORMED_STREAM)
        if not isinstance(obj, dict):
            return LineEvent(error=MALFORMED_STREAM)
        if self.format == AUTO:
            self.format = detect(obj, sse)
        if self.format == OPENAI:
            event = _openai_line(obj)
            event.final = False  # only [DONE] ends an OpenAI stream
            return event
        return _token_line(obj)
