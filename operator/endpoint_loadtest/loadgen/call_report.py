"""One call to the endpoint, made and reported once: the closed and the open model alike.

users.py (a user's own loop) and open_model.py (the pacer's sender) differ only in
when a call counts as started; what they record, and in which order, is this module.
No locust import here: open_model.py must stay importable without its monkey-patching.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from endpoint_loadtest.loadgen.errors import SAMPLES, RequestFailure
from endpoint_loadtest.loadgen.latency import WINDOW
from endpoint_loadtest.loadgen.phases import request_type

if TYPE_CHECKING:
    from locust.env import Environment


def attempt(user: Any, data: bytes) -> tuple[int, RequestFailure | None]:
    """One call with the user's client: (response length, None) or (0, why it failed)."""
    try:
        return user.call(data), None
    except RequestFailure as error:
        return 0, error


def report_call(
    environment: Environment,
    user: Any,
    phase: str,
    name: str,
    length: int,
    failure: RequestFailure | None,
    latency_ms: float,
    start_time: float,
    service_ms: float | None = None,
) -> None:
    """File one call: the window's histograms, an error sample, the user's own figures
    (`measured`), then Locust's request event, named by the phase it started in."""
    WINDOW.record_call(phase, failure is not None, latency_ms, service_ms)
    if failure is not None:
        SAMPLES.record(phase, failure)
    user.measured(phase)
    environment.events.request.fire(
        request_type=request_type(user.base_request_type, phase),
        name=name,
        response_time=latency_ms,
        response_length=length,
        response=None,
        context={},
        exception=failure,
        start_time=start_time,
    )
