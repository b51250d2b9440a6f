"""Every kopf registration of the operator, and nothing else (handlers stay thin).

Run with `elt-operator` (or `kopf run -m endpoint_loadtest.k8s.main`). One timer per
EndpointLoadTest drives it a step at a time; the step's logic is in reconcile.py.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from endpoint_loadtest.api import models
from endpoint_loadtest.k8s.cluster import Cluster, login
from endpoint_loadtest.k8s.reconcile import Reconciler
from endpoint_loadtest.k8s.settings import Settings
from endpoint_loadtest.observability.exporter import EXPORTER, serve

SETTINGS = Settings.from_environment()
_state: dict[str, Reconciler] = {}


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    login()
    _state["reconciler"] = Reconciler(Cluster(), SETTINGS)
    settings.persistence.finalizer = "perf.elt.dev/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="perf.elt.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="perf.elt.dev", key="last-handled-configuration"
    )
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 60
    if endpoint := SETTINGS.metrics_endpoint():
        serve(endpoint[1], host=endpoint[0])


@kopf.timer(models.GROUP, models.VERSION, models.PLURAL, interval=SETTINGS.poll_seconds)
def drive(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """One step of the test's state machine; its status is the only state."""
    step = _state["reconciler"].step(dict(body))
    for key, value in step.status.items():
        patch.status[key] = value
    for kind, reason, message in step.events:
        kopf.event(body, type=kind, reason=reason, message=message)
    meta = body["metadata"]
    current = dict(body.get("status") or {})
    EXPORTER.update(
        meta["namespace"],
        meta["name"],
        {**current, **step.status},
        snapshot=step.snapshot,
        spec=dict(body.get("spec") or {}),
    )
    if step.delete_test:
        _state["reconciler"].cluster.delete_test(meta["namespace"], meta["name"])


@kopf.on.delete(models.GROUP, models.VERSION, models.PLURAL, optional=True)
def forget(name: str, namespace: str, **_: Any) -> None:
    """A deleted test's series disappear from /metrics; its children go with it (owners)."""
    EXPORTER.remove(namespace, name)
    _state["reconciler"].forget(namespace, name)
