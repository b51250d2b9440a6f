"""A canned streaming target for the benchmark: every request gets the same token stream.

Raw gevent sockets, no framework, the stream pre-encoded at start: each token goes out
as its own HTTP chunk, as a model server writes it. `--format eventstream` wraps each
JSON line in an event-stream PayloadPart message (InvokeEndpointWithResponseStream);
`--format sse` writes OpenAI-compatible `data:` chunks and `data: [DONE]`.
GET /_count answers {"requests": n, "tokens": n, "connections": n}.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys

from loopback import json_response, serve, serve_connection

from endpoint_loadtest.loadgen.streaming.eventstream import encode_message

STATE = {"requests": 0, "tokens": 0, "connections": 0}
PART = {":message-type": "event", ":event-type": "PayloadPart", ":content-type": "x"}


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def token_lines(tokens: int, sse: bool) -> list[bytes]:
    if sse:
        lines = [
            b"data: "
            + json.dumps({"choices": [{"index": 0, "delta": {"content": f" tok{i}"}}]}).encode()
            + b"\n\n"
            for i in range(tokens)
        ]
        usage = {"choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": tokens}}
        return [*lines, b"data: " + json.dumps(usage).encode() + b"\n\ndata: [DONE]\n\n"]
    lines = [
        json.dumps({"token": {"id": [i], "text": f" tok{i}", "log_prob": -0.1}}).encode() + b"\n"
        for i in range(tokens - 1)
    ]
    last = {
        "token": {"id": [tokens], "text": " end", "log_prob": -0.1},
        "generated_text": "...",
        "details": {"finish_reason": "length", "generated_tokens": tokens},
    }
    return [*lines, json.dumps(last).encode() + b"\n"]


def build_response(tokens: int, stream_format: str) -> list[bytes]:
    """The response as the writes a server makes: headers, one chunk per token, the end."""
    sse = stream_format == "sse"
    content_type = b"text/event-stream" if sse else b"application/vnd.amazon.eventstream"
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type + b"\r\n"
        b"x-Amzn-Invoked-Production-Variant: AllTraffic\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    lines = token_lines(tokens, sse)
    bodies = lines if sse else [encode_message(PART, line) for line in lines]
    writes = [_chunk(b) for b in bodies]
    writes[0] = head + writes[0]
    writes[-1] += b"0\r\n\r\n"
    return writes


def make_handler(writes: list[bytes], tokens: int):  # type: ignore[no-untyped-def]
    def respond(sock, head: bytes) -> None:  # type: ignore[no-untyped-def]
        if head.startswith(b"GET /_count"):
            sock.sendall(json_response(STATE))
            return
        for write in writes:
            sock.sendall(write)
        STATE["requests"] += 1
        STATE["tokens"] += tokens

    def handle(sock, _address) -> None:  # type: ignore[no-untyped-def]
        # As model servers do (uvicorn, aiohttp): a token is sent when it is written.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        serve_connection(sock, STATE, respond)

    return handle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=64, help="output tokens per request")
    parser.add_argument("--format", choices=("eventstream", "sse"), default="eventstream")
    args = parser.parse_args()
    serve(make_handler(build_response(args.tokens, args.format), args.tokens))


if __name__ == "__main__":
    sys.exit(main())
