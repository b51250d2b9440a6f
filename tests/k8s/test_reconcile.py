"""The reconciler on a fake cluster and an injected master client: what each tick patches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from endpoint_loadtest.engine.observe import MasterUnavailable, ResultUnverified, Snapshot
from endpoint_loadtest.k8s.cluster import ApiRefused, ChildRef, PodState
from endpoint_loadtest.k8s.reconcile import Reconciler, needs_timer, run_token
from endpoint_loadtest.k8s.settings import Settings

SPEC = {
    "target": {"sagemaker": {"endpointName": "ep", "region": "us-east-1"}},
    "payload": {"body": "{}"},
    "load": {"users": 2, "spawnRate": 2, "workers": 1, "warmup": "0s", "duration": "5s"},
}


@dataclass
class FakeCluster:
    """Children and pods in memory; `refuse` makes the next creates fail."""

    created: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    deleted_secrets: list[str] = field(default_factory=list)
    pod_list: list[PodState] = field(default_factory=list)
    refuse: ApiRefused | None = None
    master_owners: set[str] = field(default_factory=lambda: {"rs-uid"})

    def create(self, namespace: str, manifest: dict[str, Any]) -> bool:
        if self.refuse is not None:
            raise self.refuse
        self.created.append(manifest)
        return True

    def children(self, namespace: str, name: str, uid: str) -> list[ChildRef]:
        return [
            ChildRef(m["kind"], m["metadata"]["name"], m["metadata"]["labels"]["perf.elt.dev/run"])
            for m in self.created
            if m["metadata"]["name"] not in self.deleted
            and m["kind"] != "Secret"  # the operator may not list Secrets
            and m["metadata"]["ownerReferences"][0]["uid"] == uid
        ]

    def delete(self, namespace: str, child: ChildRef) -> None:
        self.deleted.append(child.name)

    def delete_secret(self, namespace: str, name: str) -> None:
        self.deleted_secrets.append(name)

    def master_replica_sets(self, namespace: str, name: str, run_id: str, uid: str) -> set[str]:
        return self.master_owners

    def pods(self, namespace: str, name: str, run_id: str) -> list[PodState]:
        return self.pod_list


class FakeMaster:
    """The conductor's answers, set by the test."""

    def __init__(self) -> None:
        self.status: dict[str, Any] | None = None
        self.window: dict[str, Any] | None = None
        self.forged: str | None = None  # the result's verification fails, and why
        self.asked: list[tuple[str, str, str]] = []  # (url, token, run id) of each client

    def __call__(self, base_url: str, token: str, run_id: str) -> FakeMaster:
        self.asked.append((base_url, token, run_id))
        return self

    def poll(self) -> Snapshot:
        if self.status is None:
            raise MasterUnavailable("connection refused")
        stats = {"stats": [{"name": "Aggregated", "num_requests": 100, "num_failures": 0}]}
        return Snapshot(at=0.0, status=self.status, stats=stats)

    def result(self) -> dict[str, Any] | None:
        if self.forged is not None:
            raise ResultUnverified(self.forged)
        return self.window


def master_pod(uid: str = "u1", restarts: int = 0) -> PodState:
    return PodState(
        name=f"t-master-{uid}", component="master", phase="Running", ready=True,
        ip="127.0.9.9", reason=None, uid=uid, restarts=restarts, owner="t-master-abc",
        owner_uid="rs-uid",
    )  # fmt: skip


class World:
    def __init__(self) -> None:
        self.cluster = FakeCluster()
        self.master = FakeMaster()
        self.now = 1_000_000.0
        self.reconciler = Reconciler(
            self.cluster, Settings(), master_client=self.master, clock=lambda: self.now
        )
        self.body: dict[str, Any] = {
            "apiVersion": "perf.elt.dev/v1alpha1",
            "kind": "EndpointLoadTest",
            "metadata": {"name": "t", "namespace": "ns", "uid": "t-uid", "generation": 1},
            "spec": SPEC,
        }
        self.events: list[tuple[str, str, str]] = []

    def tick(self, seconds: float = 2.0) -> dict[str, Any]:
        """One tick, its patch merged into the body as the API server would store it."""
        self.now += seconds
        step = self.reconciler.step(self.body)
        self.body["status"] = merge_patch(self.body.get("status") or {}, step.status)
        self.events += step.events
        return step.status

    @property
    def status(self) -> dict[str, Any]:
        return self.body["status"]

    def running(self) -> None:
        self.tick()  # new run
        self.cluster.pod_list = [master_pod()]
        self.master.status = conductor("measuring")
        self.tick()  # Pending -> Starting -> Running
        assert self.status["phase"] == "Running", self.status


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, as the API server applies a status patch: null removes, dicts merge."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def conductor(state: str, **extra: Any) -> dict[str, Any]:
    return {"state": state, "message": state, "conductorId": "c1", "elapsedSeconds": 3, **extra}


def reasons(world: World) -> list[str]:
    return [reason for _, reason, _ in world.events]


def test_a_run_goes_from_apply_to_a_verdict_and_its_children_go_after() -> None:
    world = World()
    world.running()
    assert {m["kind"] for m in world.cluster.created} == {
        "Secret", "NetworkPolicy", "ConfigMap", "Service", "Deployment",
    }  # fmt: skip
    world.master.status = conductor("finished", windowStart=1.0, windowEnd=6.0)
    world.master.window = {"requests": 100, "failures": 0, "windowSeconds": 5.0}
    world.tick()
    assert world.status["phase"] == "Completed" and world.status["verdict"]["result"]
    assert world.status["reason"] == world.status["verdict"]["result"]
    assert world.cluster.deleted == []  # not before the verdict is stored
    assert needs_timer(world.body)  # one more tick removes the children
    world.tick()
    assert set(world.cluster.deleted) == {"t-master", "t-worker", "t-ingress"}
    assert world.cluster.deleted_secrets == [f"t-token-{world.status['runId']}"]
    assert not needs_timer(world.body), "a finished test costs no timer"
    assert reasons(world)[:3] == ["RunCreated", "Starting", "Running"]


def test_master_pod_replaced_mid_run_ends_in_error_master_restarted() -> None:
    world = World()
    world.running()
    world.cluster.pod_list = [master_pod("u2")]  # the Deployment made a new one
    world.master.status = conductor("waiting", conductorId="c2")
    world.tick()
    assert world.status["phase"] == "Error"
    assert world.status["reason"] == "MasterRestarted"
    assert "100 requests" in world.status["message"]
    assert {c["type"]: c["reason"] for c in world.status["conditions"]}["Completed"] == (
        "MasterRestarted"
    )
    assert "MasterRestarted" in reasons(world)


def test_master_container_restart_is_seen_by_restart_count() -> None:
    world = World()
    world.running()
    world.cluster.pod_list = [master_pod("u1", restarts=1)]
    world.tick()
    assert world.status["reason"] == "MasterRestarted"


def test_a_terminating_master_of_another_deployment_is_not_the_master() -> None:
    world = World()
    world.tick()
    stray = master_pod("old")
    stray.owner = "other-master-xyz"
    world.cluster.pod_list = [stray]
    world.master.status = conductor("measuring")
    world.tick()
    assert world.status["phase"] == "Starting"


def test_a_refused_child_is_an_error_with_the_api_servers_message_and_no_retry() -> None:
    world = World()
    world.tick()
    world.cluster.refuse = ApiRefused(
        'the API server answered 422: Deployment.apps "t-master" is invalid: quantities', True
    )
    world.tick()
    assert world.status["phase"] == "Error" and world.status["reason"] == "Refused"
    assert "is invalid: quantities" in world.status["message"]
    assert world.tick() == {"lifecycle": {**world.status["lifecycle"], "childrenRemoved": True}}


def test_transient_errors_are_retried_with_backoff_and_shown() -> None:
    world = World()
    world.tick()
    world.cluster.refuse = ApiRefused("the API server answered 503: unavailable", False)
    world.tick()
    assert world.status["phase"] == "Pending" and "503" in world.status["message"]
    world.cluster.refuse = None
    world.tick(seconds=0.2)  # still backing off: nothing created
    assert world.cluster.created == []
    world.tick(seconds=2)
    assert world.status["phase"] in ("Starting", "Running")


def test_live_figures_alone_are_marked_as_such() -> None:
    world = World()
    world.running()
    world.reconciler.step(world.body)
    step = world.reconciler.step(world.body)
    assert step.live_only  # the same phase, message and master: may wait a few seconds


def test_spec_edit_mid_run_supersedes_the_run_with_a_history_record() -> None:
    world = World()
    world.running()
    first = world.status["runId"]
    world.body["metadata"]["generation"] = 2
    world.tick()
    assert world.status["runId"] != first and world.status["phase"] == "Pending"
    assert world.status["history"][0]["runId"] == first
    assert world.status["history"][0]["result"] == "Superseded"
    assert "Superseded" in reasons(world)
    assert world.status["runToken"] == run_token(world.body["metadata"])
    # The new run knows nothing of the old one's master: its own pod is the master.
    assert world.status["lifecycle"].get("master") is None
    world.cluster.pod_list = [master_pod("u2")]
    world.master.status = conductor("measuring", conductorId="c2")
    world.tick()
    world.tick()
    assert world.status["phase"] == "Running", world.status["message"]


def test_invalid_spec_in_the_object_is_an_error_naming_the_field() -> None:
    world = World()
    world.body["spec"] = {**SPEC, "load": {**SPEC["load"], "users": 0}}
    world.tick()
    assert world.status["phase"] == "Error" and world.status["reason"] == "InvalidSpec"
    assert "load.users" in world.status["message"]


def test_a_reserved_env_name_is_refused_by_the_operator_where_the_crd_lacks_the_rule() -> None:
    world = World()
    env = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "PYTHONPATH"}]
    world.body["spec"] = {**SPEC, "pod": {"env": env}}
    world.tick()
    assert world.status["phase"] == "Error" and world.status["reason"] == "InvalidSpec"
    refusal = "spec.pod.env[2].name: 'PYTHONPATH' must not start with PYTHON"
    assert refusal in world.status["message"]
    assert reasons(world) == ["InvalidSpec"] and world.cluster.created == []


def test_an_unexpected_failure_ends_the_run_instead_of_retrying_forever() -> None:
    world = World()
    world.tick()

    def broken(namespace: str, name: str, run_id: str) -> list[PodState]:
        raise KeyError("surprise")

    world.cluster.pods = broken  # type: ignore[method-assign]
    world.cluster.pod_list = [master_pod()]
    world.tick()
    assert world.status["phase"] == "Error" and world.status["reason"] == "InternalError"
    assert "KeyError" in world.status["message"]


def test_a_200_kib_inline_body_is_planned_into_the_configmap_file() -> None:
    world = World()
    body = '{"inputs": "' + "x" * (200 * 1024) + '"}'
    world.body["spec"] = {**SPEC, "payload": {"body": body}}
    world.tick()
    world.tick()
    assert world.status["phase"] != "Error", world.status.get("message")
    [plan] = [m for m in world.cluster.created if m["kind"] == "ConfigMap"]
    assert len(plan["data"]["plan.json"]) > 200 * 1024


def test_a_search_result_becomes_status_capacity_and_a_rerun_clears_it() -> None:
    world = World()
    world.body["spec"] = {
        **{k: v for k, v in SPEC.items() if k != "load"},
        "load": {"workers": 1},
        "search": {"startTPS": 20, "maxTPS": 40, "stepDuration": "5s", "targetTPS": 50},
    }
    world.running()
    steps = [
        {"index": i + 1, "offeredTPS": rate, "requests": rate * 5, "failures": 0,
         "windowSeconds": 5.0, "windowStart": 10.0 * i, "windowEnd": 10.0 * i + 5,
         "latencyMs": {"p50": 10.0, "p99": 20.0}}
        for i, rate in enumerate([20, 40])
    ]  # fmt: skip
    world.master.status = conductor("finished", windowStart=0.0, windowEnd=15.0)
    world.master.window = {"search": {"steps": steps}, "totalRequests": 400}
    world.tick()
    status = world.status
    assert status["phase"] == "Completed", status
    assert status["verdict"]["result"] == "Inconclusive"  # maxTPS 40 passed: at least
    capacity = status["capacity"]
    assert capacity["maxTPS"] == 40.0 and capacity["atLeast"] is True
    assert capacity["recommendation"]["instances"] == 2  # ceil(50 / (40 x 0.65))
    assert [c["name"] for c in status["verdict"]["checks"]] == ["step1", "step2"]
    assert status["results"]["totalRequests"] == 400
    world.body["metadata"]["generation"] = 2
    world.tick()
    assert "capacity" not in world.status  # a new run starts without the old answer


def test_the_series_grows_in_the_status_tick_by_tick_and_a_new_run_starts_anew() -> None:
    """The operator keeps nothing between ticks: status.series is grown from the status."""
    world = World()
    world.running()
    world.master.status = conductor("measuring", windowStart=0.5)
    for _ in range(3):
        world.tick()
    series = world.status["series"]
    assert series["seen"] == len(series["t"]) >= 3
    assert series["windowStart"] == 0.5 and len(series["rps"]) == len(series["t"])
    world.body["metadata"]["generation"] = 2
    world.tick()  # the spec changed: a new run, a new series
    assert "series" not in world.status


def test_the_master_is_asked_at_its_pod_address_with_the_runs_own_token() -> None:
    world = World()
    world.running()
    url, token, run_id = world.master.asked[-1]
    assert url == "http://127.0.9.9:8089" and run_id == world.status["runId"]
    [secret] = [m for m in world.cluster.created if m["kind"] == "Secret"]
    assert secret["stringData"]["token"] == token and len(token) >= 43
    assert token not in str(world.status) and token not in str(world.events)
    # Another run of the same test has another token.
    world.body["metadata"]["generation"] = 2
    for _ in range(3):  # a new run; the old run's children go; the new run's are made
        world.tick()
    tokens = [m["stringData"]["token"] for m in world.cluster.created if m["kind"] == "Secret"]
    assert len(set(tokens)) == 2


def test_a_pod_with_the_runs_labels_but_not_its_replica_set_is_never_asked() -> None:
    world = World()
    world.tick()
    impostor = master_pod("fake")
    impostor.owner_uid = "someone-elses-rs"
    world.cluster.pod_list = [impostor]
    world.master.status = conductor("measuring")
    world.tick()
    assert world.status["phase"] == "Starting" and world.master.asked == []


def test_a_result_that_fails_verification_ends_in_error_and_is_never_judged() -> None:
    world = World()
    world.running()
    world.master.status = conductor("finished", windowStart=1.0, windowEnd=6.0)
    world.master.window = {"requests": 100, "failures": 0, "windowSeconds": 5.0}
    world.master.forged = "the result's signature does not match the run's token"
    world.tick()
    assert world.status["phase"] == "Error", world.status
    assert world.status["reason"] == "ResultUnverified"
    assert "signature does not match" in world.status["message"]
    assert world.status.get("verdict") is None and world.status.get("results") is None
    assert "ResultUnverified" in reasons(world)


def test_a_child_the_test_does_not_own_is_never_deleted() -> None:
    world = World()
    world.running()
    look_alike = {
        "kind": "Deployment",
        "metadata": {
            "name": "t-lookalike",
            "labels": {"perf.elt.dev/test": "t", "perf.elt.dev/run": "old"},
            "ownerReferences": [{"uid": "another-test"}],
        },
    }
    world.cluster.created.append(look_alike)
    world.body["metadata"]["generation"] = 2  # a new run removes the stale children
    world.tick()
    world.tick()
    assert "t-lookalike" not in world.cluster.deleted


def test_cloudwatch_of_an_endpoint_the_operator_may_not_read_ends_in_error_at_once() -> None:
    world = World()
    world.body["spec"] = {**SPEC, "cloudwatch": {"enabled": True}}
    world.tick()
    assert world.status["phase"] == "Error" and world.status["reason"] == "InvalidSpec"
    message = world.status["message"]
    assert "cloudwatch.allowedEndpoints" in message and "us-east-1/ep" in message
    assert world.cluster.created == []
