"""The bytes a streaming model server writes, per format (see loadgen/streaming/formats.py).

tgi: server-sent events `data:{"token":...}`; jsonlines: LMI's one object per line;
openai: chat.completion.chunk (or text_completion) SSE chunks, a usage chunk when asked
for, then `data: [DONE]`. Each has its in-band error shape.
"""

from __future__ import annotations

import json
import time
from typing import Any

from endpoint_loadtest.simulator.streaming_model import StreamingConfig


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class Renderer:
    """Renders one request's stream in one format."""

    def __init__(self, stream_format: str, document: Any, input_tokens: int) -> None:
        self.format = stream_format
        self.document = document if isinstance(document, dict) else {}
        self.input_tokens = input_tokens
        self.chat = "messages" in self.document
        self.id = f"cmpl-{time.monotonic_ns()}"
        options = self.document.get("stream_options")
        self.usage = isinstance(options, dict) and bool(options.get("include_usage"))

    @staticmethod
    def text(index: int) -> str:
        return f" tok{index}"

    def token(self, index: int, total: int) -> bytes:
        """Token `index` of `total`; the last one carries the final event where the format
        puts it there (tgi, jsonlines)."""
        text = self.text(index)
        last = index == total - 1
        if self.format == "openai":
            choice: dict[str, Any] = {"index": 0, "finish_reason": "length" if last else None}
            if self.chat:
                choice["delta"] = {"content": text}
            else:
                choice["text"] = text
            chunk = {
                "id": self.id,
                "object": "chat.completion.chunk" if self.chat else "text_completion",
                "model": "simulated",
                "choices": [choice],
            }
            return b"data: " + _dumps(chunk) + b"\n\n"
        generated = "".join(self.text(i) for i in range(total)) if last else None
        if self.format == "tgi":
            event = {
                "token": {"id": 1000 + index, "text": text, "logprob": -0.1, "special": False},
                "generated_text": generated,
                "details": {"finish_reason": "length", "generated_tokens": total, "seed": None}
                if last
                else None,
            }
            return b"data:" + _dumps(event) + b"\n\n"
        line: dict[str, Any] = {"token": {"id": [1000 + index], "text": text, "log_prob": -0.1}}
        if last:
            line["generated_text"] = generated
            line["details"] = {
                "finish_reason": "length",
                "generated_tokens": total,
                "inputs": None,
            }
        return _dumps(line) + b"\n"

    def closing(self, total: int) -> bytes:
        """What follows the last token: openai's usage chunk and [DONE]; nothing otherwise."""
        if self.format != "openai":
            return b""
        tail = b""
        if self.usage:
            usage = {
                "prompt_tokens": self.input_tokens,
                "completion_tokens": total,
                "total_tokens": self.input_tokens + total,
            }
            chunk = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "choices": [],
                "usage": usage,
            }
            tail += b"data: " + _dumps(chunk) + b"\n\n"
        return tail + b"data: [DONE]\n\n"

    def error(self) -> bytes:
        """The server's in-band error after some tokens (GenerationError)."""
        if self.format == "openai":
            error = {"message": "simulated generation error", "type": "server_error", "code": 500}
            return b"data: " + _dumps({"error": error}) + b"\n\n"
        if self.format == "tgi":
            body = {"error": "simulated generation error", "error_type": "generation"}
            return b"data:" + _dumps(body) + b"\n\n"
        line = {
            "token": {"id": -1, "text": "", "log_prob": -1},
            "generated_text": "",
            "details": {"finish_reason": "error", "generated_tokens": None, "inputs": None},
        }
        return _dumps(line) + b"\n"


def content_type(config: StreamingConfig) -> str:
    return {"jsonlines": "application/jsonlines"}.get(config.format, "text/event-stream")
