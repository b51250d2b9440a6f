"""The reader's client of the master on a tiny local HTTP server that misbehaves."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from endpoint_loadtest.engine import signing
from endpoint_loadtest.engine.observe import (
    MAX_REPLY_BYTES,
    BadReply,
    MasterClient,
    ResultUnverified,
)

TOKEN = signing.new_token()
STATUS = {"state": "measuring", "message": "measuring", "runId": "r1", "conductorId": "c",
          "workers": {"expected": 1, "connected": 1, "list": []}}  # fmt: skip
STATS = {"stats": [{"name": "Aggregated", "num_requests": 5, "num_failures": 0}],
         "current_rps": 1.0, "user_count": 1, "workers": []}  # fmt: skip
FIGURES = {"requests": 100, "failures": 0, "windowSeconds": 5.0}


class Server:
    """Answers each path with what a test sets: (status, headers, body bytes)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.seen: list[tuple[str, str | None]] = []  # (path, Authorization)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                server.seen.append((self.path, self.headers.get("Authorization")))
                code, headers, body = server.routes.get(self.path, (404, {}, b"{}"))
                self.send_response(code)
                for key, value in headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def json(self, path: str, value: Any, code: int = 200) -> None:
        self.routes[path] = (code, {"Content-Type": "application/json"}, json.dumps(value).encode())


@pytest.fixture
def server() -> Iterator[Server]:
    served = Server()
    thread = threading.Thread(target=served.httpd.serve_forever, daemon=True)
    thread.start()
    yield served
    served.httpd.shutdown()
    served.httpd.server_close()


def client(server: Server) -> MasterClient:
    return MasterClient(server.url, token=TOKEN, run_id="r1", timeout=2)


def signed(figures: dict[str, Any], run_id: str = "r1", token: str = TOKEN) -> dict[str, Any]:
    return {"runId": run_id, "figures": figures, "algorithm": "HMAC-SHA256",
            "signature": signing.sign(token, run_id, figures)}  # fmt: skip


def test_every_request_carries_the_token_and_a_signed_result_is_returned(server) -> None:
    server.json("/elt/status", STATUS)
    server.json("/stats/requests", STATS)
    server.json("/elt/result", signed(FIGURES))
    snapshot = client(server).poll()
    assert snapshot.state == "measuring"
    assert client(server).result() == FIGURES
    assert {auth for _, auth in server.seen} == {f"Bearer {TOKEN}"}


def test_a_result_not_yet_there_is_none(server) -> None:
    server.json("/elt/result", {"state": "measuring", "message": "measuring"}, code=409)
    assert client(server).result() is None


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        ({"requests": 100}, "not a signed result"),
        (signed(FIGURES, token="not-the-run-token-" + "x" * 30), "signature does not match"),
        (signed(FIGURES, run_id="r0"), "not of this run"),
        ({**signed(FIGURES), "figures": {**FIGURES, "failures": 0, "requests": 10**6}},
         "signature does not match"),
        ({**signed(FIGURES), "signature": "00" * 32}, "signature does not match"),
    ],
)  # fmt: skip
def test_a_forged_result_is_refused_naming_why(server, reply, needle) -> None:
    server.json("/elt/result", reply)
    with pytest.raises(ResultUnverified, match=needle):
        client(server).result()


def test_a_redirect_is_not_followed_and_the_token_goes_nowhere_else(server) -> None:
    server.routes["/elt/status"] = (302, {"Location": f"{server.url}/steal"}, b"")
    server.json("/steal", STATUS)
    with pytest.raises(BadReply, match=r"redirected \(HTTP 302\) to .*/steal; not followed"):
        client(server).poll()
    assert [path for path, _ in server.seen] == ["/elt/status"]


def test_an_oversized_reply_is_refused_before_it_is_read_whole(server) -> None:
    cap = MAX_REPLY_BYTES["/elt/status"]
    server.routes["/elt/status"] = (200, {}, b" " * (cap + 10))
    with pytest.raises(BadReply, match="more than"):
        client(server).poll()


def test_a_reply_larger_than_the_cap_without_a_length_is_refused(server) -> None:
    cap = MAX_REPLY_BYTES["/elt/result"]
    # No usable Content-Length: read until the peer closes, but never past the cap.
    server.routes["/elt/result"] = (200, {"Content-Length": "x"}, b"{" + b" " * (cap + 1))
    with pytest.raises(BadReply, match="larger than"):
        client(server).result()


@pytest.mark.parametrize(
    ("status", "needle"),
    [
        ({"message": "no state"}, "state: Field required"),
        ({**STATUS, "workers": {"expected": "many"}}, "workers.expected"),
        ([1, 2], "the reply|Input should be"),
    ],
)
def test_a_malformed_reply_is_a_clear_error_naming_the_field(server, status, needle) -> None:
    server.json("/elt/status", status)
    server.json("/stats/requests", STATS)
    with pytest.raises(BadReply, match=needle):
        client(server).poll()


def test_not_json_and_a_refused_token_are_clear_errors(server) -> None:
    server.routes["/elt/status"] = (200, {}, b"<html>")
    with pytest.raises(BadReply, match="not JSON"):
        client(server).poll()
    server.json("/elt/status", {"error": "token"}, code=401)
    with pytest.raises(BadReply, match="refused the run's token"):
        client(server).poll()
