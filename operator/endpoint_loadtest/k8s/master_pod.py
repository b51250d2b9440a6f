"""Which pod is the run's master: the live pod of this run's master Deployment.

At first sight the pod must belong to one of the run's own ReplicaSets (checked by
owner references), so a pod that merely carries the labels is never taken for the
master; afterwards the master is the pod of that uid, and its disappearance is the
lifecycle's `master_gone`.
"""

from __future__ import annotations

from typing import Any

from endpoint_loadtest.engine import lifecycle as lc
from endpoint_loadtest.k8s.cluster import PodState
from endpoint_loadtest.k8s.manifests import names


def find_master(
    cluster: Any, meta: dict[str, Any], run_id: str, known: lc.MasterIdentity | None
) -> tuple[dict[str, Any], PodState | None]:
    """The master pod to poll, if any, and the observation's fields so far (the pods in
    words, and `master_gone` or `unanswered` when there is no master to poll)."""
    name, namespace = meta["name"], meta["namespace"]
    pods = cluster.pods(namespace, name, run_id)
    prefix = f"{names(name)['master']}-"
    masters = [
        p for p in pods
        if p.component == "master" and p.owner.startswith(prefix) and not p.terminating
    ]  # fmt: skip
    found: dict[str, Any] = {"pods": describe_pods(pods)}
    if known is None and masters:  # first sight: the pod must be the run's own
        owners = cluster.master_replica_sets(namespace, name, run_id, meta["uid"])
        masters = [p for p in masters if p.owner_uid in owners]
    if known is not None and known.uid not in {p.uid for p in masters}:
        found["master_gone"] = f"the master pod {known.uid} was deleted or replaced"
        return found, None
    master = next((p for p in masters if known is None or p.uid == known.uid), None)
    if master is None:
        found["unanswered"] = "no master pod yet"
    return found, master


def describe_pods(pods: list[PodState]) -> str:
    if not pods:
        return "no pods were created (check the Deployments' events and the namespace's quotas)"
    return "; ".join(p.describe() for p in sorted(pods, key=lambda p: p.name))
