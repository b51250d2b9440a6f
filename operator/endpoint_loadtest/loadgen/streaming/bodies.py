"""Request bodies of a streamed test: ask the server to stream, and for how many tokens.

The user writes the prompt's body; the format says where the generation settings go:
- `openai`: `"stream": true`, `stream_options.include_usage` (the server's token
  counts), `max_tokens`;
- `tgi`: `"stream": true` and `parameters.max_new_tokens`;
- `jsonlines` (LMI): `parameters.max_new_tokens` (LMI streams when invoked with a stream);
- `auto`: an OpenAI body (`messages` or `prompt`) is treated as `openai`, else as `tgi`
  without forcing `stream` (LMI and TGI containers both read `parameters`).
Fields the user set are kept as written.
"""

from __future__ import annotations

import json
from dataclasses import replace

from endpoint_loadtest.loadgen.config import Body, Payload
from endpoint_loadtest.loadgen.streaming.formats import AUTO, JSONLINES, OPENAI, TGI


class BodyError(ValueError):
    """A body that cannot carry the stream's settings (names the body)."""


def prepare_body(body: Body, stream_format: str, include_usage: bool) -> Body:
    try:
        document = json.loads(body.data)
    except ValueError:
        if body.max_tokens is not None or stream_format == OPENAI:
            raise BodyError(
                f"payload body {body.name!r}: not JSON, so maxTokens/stream settings cannot "
                "be written into it"
            ) from None
        return body
    if not isinstance(document, dict):
        if body.max_tokens is None and stream_format != OPENAI:
            return body
        raise BodyError(f"payload body {body.name!r}: a JSON object is needed for maxTokens")
    kind = stream_format
    if kind == AUTO:
        kind = OPENAI if ("messages" in document or "prompt" in document) else JSONLINES
    if kind == OPENAI:
        document.setdefault("stream", True)
        if include_usage:
            options = document.setdefault("stream_options", {})
            if isinstance(options, dict):
                options.setdefault("include_usage", True)
        if body.max_tokens is not None:
            document.setdefault("max_tokens", body.max_tokens)
    else:
        if kind == TGI:
            document.setdefault("stream", True)
        if body.max_tokens is not None:
            parameters = document.setdefault("parameters", {})
            if not isinstance(parameters, dict):
                raise BodyError(f"payload body {body.name!r}: parameters is not an object")
            parameters.setdefault("max_new_tokens", body.max_tokens)
    return replace(body, data=json.dumps(document, separators=(",", ":")).encode())


def prepare_payload(payload: Payload, stream_format: str, include_usage: bool) -> None:
    """Rewrite the payload's bodies in place, once per process, before any request."""
    payload.bodies[:] = [prepare_body(b, stream_format, include_usage) for b in payload.bodies]
