"""Every kopf registration of the operator, and nothing else (handlers stay thin).

Run with `elt-operator` (or `kopf run -m endpoint_loadtest.k8s.main`). One timer per
unfinished EndpointLoadTest drives it a tick at a time (reconcile.py); a finished test
matches no timer, so it costs nothing and carries no finalizer. The tick writes the
status itself and never raises: a failed write only means the next tick (which reads
the object again) does the same step again, so no API error ends a test's timer.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import kopf

from endpoint_loadtest.api import models
from endpoint_loadtest.k8s.cluster import TRANSIENT_ERRORS, Cluster, login
from endpoint_loadtest.k8s.reconcile import LIVE_WRITE_SECONDS, Reconciler, needs_timer
from endpoint_loadtest.k8s.settings import Settings
from endpoint_loadtest.observability.exporter import EXPORTER, serve

SETTINGS = Settings.from_environment()
FINALIZER = "perf.elt.dev/finalizer"  # kopf's, while a test has a timer
_state: dict[str, Any] = {"written": {}, "latest": {}}
log = logging.getLogger("elt.operator")


class _QuietTicks(logging.Filter):
    """kopf logs every timer run at INFO ("Timer 'drive' succeeded."): not one line a tick."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.INFO and "Timer 'drive'" in record.getMessage())


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    login()
    _state["reconciler"] = Reconciler(Cluster(), SETTINGS)
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="perf.elt.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="perf.elt.dev", key="last-handled-configuration"
    )
    # Only our own events (kopf.event) and warnings become Kubernetes Events.
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 60
    logging.getLogger("kopf.objects").addFilter(_QuietTicks())
    if endpoint := SETTINGS.metrics_endpoint():
        serve(endpoint[1], host=endpoint[0])


def _active(body: kopf.Body, **_: Any) -> bool:
    return needs_timer(dict(body))


@kopf.timer(
    models.GROUP, models.VERSION, models.PLURAL, interval=SETTINGS.poll_seconds, when=_active
)
def drive(body: kopf.Body, logger: logging.Logger, **_: Any) -> None:
    """One tick of the test's lifecycle; its status is the only state."""
    reconciler: Reconciler = _state["reconciler"]
    meta = body["metadata"]
    key = (meta["namespace"], meta["name"])
    newest = _newest(dict(body), _state["latest"].get(key))
    if not needs_timer(newest):
        # Our own last write ended the need for a timer, yet kopf still runs it: its watch
        # lags or stopped (a namespace being deleted). Read the object to learn its fate.
        try:
            newest = reconciler.cluster.get_test(*key) or {"metadata": {}}
        except TRANSIENT_ERRORS as error:
            logger.warning(f"could not read the test, the next tick retries: {error}")
            return
        if newest["metadata"].get("uid"):
            _state["latest"][key] = newest
    if newest["metadata"].get("deletionTimestamp"):
        _release(reconciler, newest, logger)
        return
    if not newest["metadata"].get("uid") or not needs_timer(newest):
        return
    step = reconciler.step(newest)
    written = _state["written"]
    due = time.monotonic() - written.get(key, 0.0) >= LIVE_WRITE_SECONDS
    if step.status and (due or not step.live_only):
        try:
            _state["latest"][key] = reconciler.cluster.patch_status(key[0], key[1], step.status)
        except TRANSIENT_ERRORS as error:
            logger.warning(f"status not written, the next tick retries: {error}")
            return
        written[key] = time.monotonic()
        if "phase" in step.status:  # one line per phase change, none per tick
            logger.info(f"phase {step.status['phase']}: {step.status.get('message') or ''}")
        for kind, reason, message in step.events:
            kopf.event(body, type=kind, reason=reason, message=message)
    current = dict(body.get("status") or {})
    EXPORTER.update(
        meta["namespace"],
        meta["name"],
        {**current, **step.status},
        snapshot=step.snapshot,
        spec=dict(body.get("spec") or {}),
    )
    if step.delete_test:
        reconciler.cluster.delete_test(*key)


def _release(reconciler: Reconciler, body: dict[str, Any], logger: logging.Logger) -> None:
    """A test being deleted needs nothing of the operator (its children go by owner
    references): let it go. kopf does this too, unless its watch of the namespace already
    stopped because the namespace itself is being deleted (then only this tick sees it)."""
    meta = body["metadata"]
    try:
        reconciler.cluster.release(
            meta["namespace"], meta["name"], list(meta.get("finalizers") or []), FINALIZER
        )
    except TRANSIENT_ERRORS as error:
        logger.warning(f"finalizer not removed, the next tick retries: {error}")


def _newest(body: dict[str, Any], written: dict[str, Any] | None) -> dict[str, Any]:
    """The body kopf holds, or the one our last status write returned if that is newer
    (the watch may lag behind our own write: never step the same state twice)."""
    if not written:
        return body

    def version(obj: dict[str, Any]) -> int:
        value = str((obj.get("metadata") or {}).get("resourceVersion") or "0")
        return int(value) if value.isdigit() else 0

    same = (written.get("metadata") or {}).get("uid") == body["metadata"].get("uid")
    return written if same and version(written) > version(body) else body


@kopf.on.delete(models.GROUP, models.VERSION, models.PLURAL, optional=True)
def forget(name: str, namespace: str, **_: Any) -> None:
    """A deleted test's series disappear from /metrics; its children go with it (owners)."""
    EXPORTER.remove(namespace, name)
    _state["reconciler"].forget(namespace, name)
    _state["written"].pop((namespace, name), None)
    _state["latest"].pop((namespace, name), None)
