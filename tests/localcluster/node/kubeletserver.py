"""The node's kubelet port: HTTPS /containerLogs for `kubectl logs`, and /healthz.

The API server reaches it with its kubelet client certificate (signed by the
cluster CA, which this server requires); it is the node's InternalIP 127.0.0.1 and
status.daemonEndpoints.kubeletEndpoint.Port.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from localcluster.node import logs

IsRunning = Callable[[str, str, str], bool]


def make_server(
    port: int, cert: str, key: str, ca: str, data_dir: Path, is_running: IsRunning
) -> ThreadingHTTPServer:
    """An HTTPS server (client certificates required) serving container logs."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path in ("/healthz", "/livez", "/readyz"):
                self._text(200, "ok")
                return
            if url.path.split("/")[1:2] in (["exec"], ["attach"], ["portForward"]):
                self.do_POST()
                return
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            if len(parts) != 4 or parts[0] != "containerLogs":
                self._text(404, "not found")
                return
            self._logs(*parts[1:], query=parse_qs(url.query))

        def do_POST(self) -> None:
            # exec/attach/port-forward need SPDY/websocket streams: not supported.
            self._text(501, "localcluster node agent: exec, attach and port-forward are not "
                            "supported (see docs/test-cluster.md)")  # fmt: skip

        def _text(self, code: int, text: str) -> None:
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _logs(self, ns: str, pod: str, container: str, query: dict[str, list[str]]) -> None:
            first = {k: v[0] for k, v in query.items()}
            previous = first.get("previous") == "true"
            try:
                path = logs.log_path(data_dir, ns, pod, container, previous)
            except FileNotFoundError as exc:
                self._text(404, str(exc))
                return
            data = path.read_bytes()
            if "tailLines" in first:
                lines = data.splitlines(keepends=True)
                data = (
                    b"".join(lines[-int(first["tailLines"]) :]) if int(first["tailLines"]) else b""
                )
            if "limitBytes" in first:
                data = data[: int(first["limitBytes"])]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(data)
            if first.get("follow") != "true" or previous:
                return
            self._follow(path, ns, pod, container)

        def _follow(self, path: Path, ns: str, pod: str, container: str) -> None:
            with open(path, "rb") as handle:
                handle.seek(0, 2)
                while True:
                    chunk = handle.read(65536)
                    if chunk:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        continue
                    if not is_running(ns, pod, container):
                        self.wfile.write(handle.read())
                        return
                    time.sleep(0.2)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    return server


def serve_in_background(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="kubelet-port", daemon=True)
    thread.start()
    return thread
