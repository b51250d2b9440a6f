"""List-then-watch loops with the client-go semantics the agent needs.

List, hand the items over, then watch from the list's resourceVersion; on 410 Gone
(the resourceVersion is too old), on any error, and every RESYNC_SECONDS, list
again, so a missed event is never missed for long.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from localcluster.client import ApiError, Kube

log = logging.getLogger("localcluster.node")
WATCH_SECONDS = 60
RESYNC_SECONDS = 300

OnList = Callable[[list[dict[str, Any]]], None]
OnEvent = Callable[[str, dict[str, Any]], None]


def list_watch(
    kube: Kube,
    path: str,
    params: dict[str, str],
    on_list: OnList,
    on_event: OnEvent,
    stopping: threading.Event,
) -> None:
    """Run until `stopping` is set; call on_list after each list, on_event per event."""
    while not stopping.is_set():
        try:
            listed = kube.get(path, **params)
            on_list(listed.get("items", []))
            rv = listed["metadata"]["resourceVersion"]
            deadline = time.monotonic() + RESYNC_SECONDS
            while not stopping.is_set() and time.monotonic() < deadline:
                for event in kube.watch(path, rv, WATCH_SECONDS, **params):
                    rv = event["object"]["metadata"].get("resourceVersion", rv)
                    if event["type"] != "BOOKMARK":
                        on_event(event["type"], event["object"])
        except ApiError as exc:
            if exc.status != 410:
                log.warning("watch %s: %s", path, exc)
                stopping.wait(1)
        except Exception as exc:
            if not stopping.is_set():
                log.warning("watch %s failed, relisting: %s", path, exc)
                stopping.wait(1)
