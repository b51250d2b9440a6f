"""Creating a run's children: the Locust master and workers, their Service, policy and
Secret, owned by the test.

Creation is idempotent (children have fixed names, a second create is a no-op), and
children of an earlier run are removed first: a new run never starts beside the
remains of the last one. The result is the lifecycle's observation of Need.CREATE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from endpoint_loadtest.api.models import EndpointLoadTestSpec
from endpoint_loadtest.engine import lifecycle as lc
from endpoint_loadtest.engine.plan import PlanError, build_plan
from endpoint_loadtest.k8s.manifests import build_children, placement_for
from endpoint_loadtest.k8s.run_secret import secret_name

if TYPE_CHECKING:
    from endpoint_loadtest.k8s.reconcile import Reconciler


def create_children(
    reconciler: Reconciler, body: dict[str, Any], run_id: str, spec: EndpointLoadTestSpec
) -> lc.Observation:
    """Remove an earlier run's children, else create this run's (created=True once done)."""
    meta = body["metadata"]
    name, namespace, uid = meta["name"], meta["namespace"], meta["uid"]
    cluster, settings = reconciler.cluster, reconciler.settings
    stale = [c for c in cluster.children(namespace, name, uid) if c.run_id != run_id]
    for child in stale:
        cluster.delete(namespace, child)
    for stale_run in sorted({c.run_id for c in stale if c.run_id}):
        cluster.delete_secret(namespace, secret_name(name, stale_run))
    if stale:
        return lc.Observation(created=False)
    spec = settings.apply_defaults(spec)
    try:
        placement = placement_for(
            name, namespace, spec, start_timeout_seconds=settings.start_timeout_seconds
        )
        plan = build_plan(spec, name=name, run_id=run_id, placement=placement)
    except PlanError as error:
        return lc.Observation(refusal=lc.Refusal(str(error), permanent=True))
    for manifest in build_children(
        name, namespace, run_id, spec, plan, settings.locust_image,
        token=reconciler.run_token(meta, run_id),
        operator_peers=settings.security.operator_peers,
    ):  # fmt: skip
        manifest["metadata"]["ownerReferences"] = [owner_reference(body)]
        manifest["metadata"]["namespace"] = namespace
        cluster.create(namespace, manifest)
    return lc.Observation(created=True)


def owner_reference(body: dict[str, Any]) -> dict[str, Any]:
    """The test as its children's controller: deleting the test deletes them."""
    meta = body["metadata"]
    return {
        "apiVersion": body["apiVersion"],
        "kind": body["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
