"""Plan: a test spec becomes the load generator's plan and the Locust command lines.

Pure functions of the spec and a few placement facts (where the master listens,
where the plan file lives); the local runtime turns the result into processes,
the Kubernetes runtime into Deployments. Neither knows how the other does it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from endpoint_loadtest.api.durations import parse_duration
from endpoint_loadtest.api.headers import planned_headers_from
from endpoint_loadtest.api.models import EndpointLoadTestSpec
from endpoint_loadtest.engine.signing import TOKEN_FILE_ENV
from endpoint_loadtest.loadgen.config import PLAN_FILE_ENV, PLAN_VERSION

PLAN_FILENAME = "plan.json"
MASTER_PORT = 5557
WEB_PORT = 8089
HEALTH_PATH = "/elt/healthz"  # the one route of the master's API open without the token
LOCUST_COMMAND = "elt-locust"
DEFAULT_WORKER_CONNECT_TIMEOUT_SECONDS = 120.0
# Inline bodies travel in the test's ConfigMap with the plan, and a ConfigMap holds at
# most 1 MiB: the bodies together, as encoded into the plan, stay well below that. The
# same bound applies locally, so a document that runs on a laptop runs in a cluster.
MAX_INLINE_PAYLOAD_BYTES = 512 * 1024


@dataclass(frozen=True)
class Placement:
    """Where things are, as the runtime decides it."""

    plan_dir: str
    master_host: str  # what workers connect to
    master_bind_host: str = "*"
    web_host: str = ""
    master_port: int = MASTER_PORT
    web_port: int = WEB_PORT
    worker_connect_timeout_seconds: float = DEFAULT_WORKER_CONNECT_TIMEOUT_SECONDS
    # Files of payload ConfigMaps, as the runtime makes them visible: name/key -> path.
    config_map_paths: dict[str, str] = field(default_factory=dict)
    # Inline bodies inside plan.json (a cluster passes the plan as one variable) rather
    # than as files beside it (the local runtime).
    inline_bodies: bool = False
    # The run token's file as the master sees it (a mounted Secret, a file of the run).
    token_file: str = ""
    # The runtime fills each target.http.headersFrom variable from its Secret (the
    # kubelet does, in a cluster); elsewhere such a test cannot run.
    secret_headers: bool = False


@dataclass(frozen=True)
class ProcessPlan:
    """One Locust process: the command (with arguments) and its environment."""

    command: list[str]
    env: dict[str, str]


@dataclass(frozen=True)
class Plan:
    config: dict[str, Any]
    files: dict[str, str]  # file name in plan_dir -> content (plan.json and inline bodies)
    master: ProcessPlan
    worker: ProcessPlan
    workers: int
    planned_seconds: float

    @property
    def plan_json(self) -> str:
        return self.files[PLAN_FILENAME]


class PlanError(ValueError):
    """The spec cannot be planned in this runtime (e.g. a ConfigMap payload locally)."""


def _target(spec: EndpointLoadTestSpec, placement: Placement) -> dict[str, Any]:
    target = spec.target
    if target.sagemaker is not None:
        planned = {"kind": "sagemaker", **target.sagemaker.to_wire()}
    else:
        assert target.http is not None
        planned = {"kind": "http", **target.http.to_wire()}
        if target.http.headers_from:
            if not placement.secret_headers:
                raise PlanError(
                    "target.http.headersFrom: headers from Secrets need a cluster (the "
                    "kubelet fills them into the Locust pods); run the test with the operator"
                )
            # The plan names the variables only: no Secret, no value.
            planned["headersFrom"] = planned_headers_from(target.http.headers_from)
    streaming = spec.thresholds.streaming
    if "stream" in planned and streaming is not None and streaming.slo is not None:
        planned["slo"] = streaming.slo.to_wire()  # per-request objectives of goodput
    return planned


def _payload(spec: EndpointLoadTestSpec, placement: Placement) -> tuple[dict[str, Any], dict]:
    bodies = []
    files: dict[str, str] = {}
    for index, body in enumerate(spec.payload.all_bodies()):
        name = body.name or (
            spec.target.sagemaker.endpoint_name
            if spec.target.sagemaker is not None and len(spec.payload.all_bodies()) == 1
            else f"body-{index}"
        )
        entry: dict[str, Any] = {"name": name, "weight": body.weight}
        if body.max_tokens is not None:
            entry["maxTokens"] = body.max_tokens
        if body.body is not None and placement.inline_bodies:
            entry["inline"] = body.body
        elif body.body is not None:
            filename = f"payload-{index}"
            files[filename] = body.body
            entry["file"] = filename
        else:
            assert body.config_map_key_ref is not None
            ref = f"{body.config_map_key_ref.name}/{body.config_map_key_ref.key}"
            if ref not in placement.config_map_paths:
                raise PlanError(
                    f"payload: ConfigMap {ref} is not available here "
                    "(use an inline body to run without a cluster)"
                )
            entry["file"] = placement.config_map_paths[ref]
        bodies.append(entry)
    return {"selection": spec.payload.selection, "bodies": bodies}, files


def check_inline_payload(spec: EndpointLoadTestSpec) -> None:
    """Refuse inline bodies that could not travel with the plan (see the bound above)."""
    total = sum(
        len(json.dumps(body.body))  # as encoded in plan.json: quotes and escapes count
        for body in spec.payload.all_bodies()
        if body.body is not None
    )
    if total > MAX_INLINE_PAYLOAD_BYTES:
        raise PlanError(
            f"payload: the inline bodies take {total / 1024:.0f} KiB in the plan, more than "
            f"{MAX_INLINE_PAYLOAD_BYTES // 1024} KiB (they travel in a ConfigMap, at most "
            "1 MiB); put large bodies in a ConfigMap of their own and use "
            "payload.configMapKeyRef or payload.bodies[].configMapKeyRef"
        )


def _search_schedule(spec: EndpointLoadTestSpec) -> dict[str, Any]:
    """A capacity search: the open model at search.startTPS, one window per step; the
    master's conductor changes the rate between steps (loadgen/search_schedule.py)."""
    search = spec.search
    assert search is not None
    return {
        "stages": [
            {
                "durationSeconds": None,
                "users": 0,
                "spawnRate": spec.load.spawn_rate,
                "targetTps": search.start_tps,
            }
        ],
        "warmupSeconds": search.step_warmup_seconds,
        "durationSeconds": search.step_duration_seconds,
        "maxInFlight": spec.load.in_flight_cap,
        "search": {
            "startTPS": search.start_tps,
            "maxTPS": search.max_tps,
            "precision": search.precision,
            "maxSteps": search.max_steps,
            # Each step is judged on the master as the engine judges it (engine/capacity.py).
            "thresholds": spec.thresholds.to_wire(),
            # With CloudWatch each window opens on a period boundary, so that the periods
            # read for a step hold that step's load alone.
            "alignSeconds": _cloudwatch_period(spec),
        },
    }


def _cloudwatch_period(spec: EndpointLoadTestSpec) -> int | None:
    enabled = spec.cloudwatch.enabled and spec.target.sagemaker is not None
    return spec.cloudwatch.period if enabled else None


def _schedule(spec: EndpointLoadTestSpec, placement: Placement) -> dict[str, Any]:
    load = spec.load
    common = {
        "expectWorkers": load.workers,
        "workerConnectTimeoutSeconds": placement.worker_connect_timeout_seconds,
        "requestTimeoutSeconds": load.request_timeout_seconds,
    }
    if spec.search is not None:
        return {**_search_schedule(spec), **common}
    if load.stages:
        stages = [
            {
                "durationSeconds": parse_duration(s.duration),
                "users": s.users or 0,
                "spawnRate": s.spawn_rate or load.spawn_rate,
                **({"targetTps": s.target_tps} if s.target_tps is not None else {}),
            }
            for s in load.stages
        ]
        duration = None
    else:
        stages = [
            {
                "durationSeconds": None,
                "users": load.users or 0,
                "spawnRate": load.spawn_rate,
                **({"targetTps": load.target_tps} if load.target_tps is not None else {}),
            }
        ]
        duration = load.duration_seconds
    extra = {"maxInFlight": load.in_flight_cap} if load.open_model else {}
    return {
        **extra,
        "stages": stages,
        "warmupSeconds": load.warmup_seconds,
        "durationSeconds": duration,
        **common,
    }


def planned_seconds(spec: EndpointLoadTestSpec) -> float:
    """How long the run should take once all workers are connected (a search: at most)."""
    load = spec.load
    if spec.search is not None:  # and each window's wait for a period boundary
        align = _cloudwatch_period(spec) or 0
        return spec.search.planned_seconds + spec.search.max_steps * align
    if load.stages:
        return load.total_stage_seconds
    if load.open_model:  # no ramp-up: the rate starts at once
        return load.warmup_seconds + load.duration_seconds
    assert load.users is not None
    return load.users / load.spawn_rate + load.warmup_seconds + load.duration_seconds


def build_plan(spec: EndpointLoadTestSpec, *, name: str, run_id: str, placement: Placement) -> Plan:
    check_inline_payload(spec)
    payload, files = _payload(spec, placement)
    config = {
        "version": PLAN_VERSION,
        "test": {"name": name, "runId": run_id},
        "target": _target(spec, placement),
        "payload": payload,
        "schedule": _schedule(spec, placement),
        "client": spec.load.client,
    }
    files = {PLAN_FILENAME: json.dumps(config, indent=2, sort_keys=True), **files}
    env = {
        PLAN_FILE_ENV: f"{placement.plan_dir.rstrip('/')}/{PLAN_FILENAME}",
        "PYTHONUNBUFFERED": "1",
    }
    if placement.token_file:
        env[TOKEN_FILE_ENV] = placement.token_file
    master = ProcessPlan(
        command=[
            LOCUST_COMMAND,
            "--master",
            f"--master-bind-host={placement.master_bind_host}",
            f"--master-bind-port={placement.master_port}",
            f"--web-host={placement.web_host}",
            f"--web-port={placement.web_port}",
            f"--expect-workers={spec.load.workers}",
        ],
        env=dict(env),
    )
    worker = ProcessPlan(
        command=[
            LOCUST_COMMAND,
            "--worker",
            f"--master-host={placement.master_host}",
            f"--master-port={placement.master_port}",
        ],
        env=dict(env),
    )
    return Plan(
        config=config,
        files=files,
        master=master,
        worker=worker,
        workers=spec.load.workers,
        planned_seconds=planned_seconds(spec),
    )
