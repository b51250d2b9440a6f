"""`elt-locust`: Locust with the product's locustfile, for the master and workers.

All other arguments are Locust's own (--master, --worker, --master-host, ...).
Importing locust first lets gevent patch the standard library before anything else.
A worker first waits until the master's name resolves: a Service name may not
resolve until the master is ready, and a worker that fails to resolve it never
retries on its own.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

MASTER_RESOLVE_TIMEOUT_SECONDS = 300.0


def _option(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and index + 1 < len(args):
            return args[index + 1]
    return None


def wait_for_master(host: str, timeout: float = MASTER_RESOLVE_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    last_note = 0.0
    while True:
        try:
            socket.getaddrinfo(host, None)
            return
        except socket.gaierror as error:
            if time.monotonic() > deadline:
                sys.exit(f"elt-locust: the master {host!r} did not resolve within {timeout:.0f}s")
            if time.monotonic() - last_note > 10:
                print(f"elt-locust: waiting for the master {host!r} to resolve ({error})")
                last_note = time.monotonic()
            time.sleep(0.5)


def main() -> None:
    args = sys.argv[1:]
    if "--worker" in args:
        wait_for_master(_option(args, "--master-host") or "127.0.0.1")
    from locust.main import main as locust_main

    locustfile = Path(__file__).with_name("locustfile.py")
    sys.argv = ["locust", "-f", str(locustfile), *args]
    locust_main()


if __name__ == "__main__":
    main()
