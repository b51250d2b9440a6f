"""The plan: commands, environment, plan.json, schedule shapes, local limits."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from endpoint_loadtest.api.loader import parse_document
from endpoint_loadtest.engine.plan import (
    LOCUST_COMMAND,
    PLAN_FILENAME,
    Placement,
    PlanError,
    build_plan,
    planned_seconds,
)
from endpoint_loadtest.loadgen.config import PLAN_FILE_ENV, parse_plan
from endpoint_loadtest.local.processes import local_command

DOC: dict[str, Any] = {
    "apiVersion": "perf.elt.dev/v1alpha1",
    "kind": "EndpointLoadTest",
    "metadata": {"name": "t"},
    "spec": {
        "target": {
            "sagemaker": {"endpointName": "ep", "region": "eu-west-1", "variantName": "Blue"}
        },
        "payload": {"body": '{"inputs": "x"}'},
        "load": {
            "users": 20,
            "spawnRate": 4,
            "workers": 3,
            "warmup": "10s",
            "duration": "1m",
            "requestTimeout": "30s",
        },
    },
}
PLACEMENT = Placement(
    plan_dir="/plans/run/",
    master_host="master.ns.svc",
    master_port=6000,
    web_port=9000,
    worker_connect_timeout_seconds=33,
)


def spec(**spec_changes: Any):
    data = copy.deepcopy(DOC)
    data["spec"].update(spec_changes)
    return parse_document(data).spec


def test_commands_and_env() -> None:
    plan = build_plan(spec(), name="t", run_id="r1", placement=PLACEMENT)
    assert plan.master.command == [
        LOCUST_COMMAND,
        "--master",
        "--master-bind-host=*",
        "--master-bind-port=6000",
        "--web-host=",
        "--web-port=9000",
        "--expect-workers=3",
    ]
    assert plan.worker.command == [
        LOCUST_COMMAND,
        "--worker",
        "--master-host=master.ns.svc",
        "--master-port=6000",
    ]
    for process in (plan.master, plan.worker):
        assert process.env[PLAN_FILE_ENV] == "/plans/run/plan.json"
        assert process.env["PYTHONUNBUFFERED"] == "1"
        assert not any(k.startswith("AWS_") for k in process.env)
    assert plan.workers == 3
    assert plan.master.env is not plan.worker.env
    assert local_command(plan.worker.command)[1:3] == ["-m", "endpoint_loadtest.loadgen"]


def test_plan_json_content() -> None:
    plan = build_plan(spec(), name="t", run_id="r1", placement=PLACEMENT)
    data = json.loads(plan.plan_json)
    assert data == plan.config
    assert data["version"] == 1
    assert data["test"] == {"name": "t", "runId": "r1"}
    assert data["target"] == {
        "kind": "sagemaker",
        "endpointName": "ep",
        "region": "eu-west-1",
        "variantName": "Blue",
        "contentType": "application/json",
    }
    assert data["payload"] == {
        "selection": "roundRobin",
        "bodies": [{"name": "ep", "weight": 1, "file": "payload-0"}],
    }
    assert plan.files["payload-0"] == '{"inputs": "x"}'
    assert data["schedule"] == {
        "stages": [{"durationSeconds": None, "users": 20, "spawnRate": 4.0}],
        "warmupSeconds": 10.0,
        "durationSeconds": 60.0,
        "expectWorkers": 3,
        "workerConnectTimeoutSeconds": 33,
        "requestTimeoutSeconds": 30.0,
    }
    assert plan.planned_seconds == 20 / 4 + 10 + 60 == planned_seconds(spec())


def test_plan_is_what_the_load_generator_reads(tmp_path: Path) -> None:
    plan = build_plan(spec(), name="t", run_id="r1", placement=PLACEMENT)
    for name, content in plan.files.items():
        (tmp_path / name).write_text(content)
    config = parse_plan(json.loads((tmp_path / PLAN_FILENAME).read_text()), tmp_path)
    assert config.target_kind == "sagemaker"
    assert not config.schedule.staged
    assert config.schedule.duration_seconds == 60
    assert config.schedule.peak_users == 20
    assert config.payload.next().data == b'{"inputs": "x"}'


def test_stages_instead_of_duration(tmp_path: Path) -> None:
    load = {
        "spawnRate": 5,
        "warmup": "5s",
        "stages": [
            {"duration": "10s", "users": 10},
            {"duration": "20s", "users": 40, "spawnRate": 20},
            {"duration": "5s", "users": 0},
        ],
    }
    plan = build_plan(spec(load=load), name="t", run_id="r", placement=PLACEMENT)
    schedule = plan.config["schedule"]
    assert schedule["durationSeconds"] is None
    assert schedule["stages"] == [
        {"durationSeconds": 10.0, "users": 10, "spawnRate": 5.0},
        {"durationSeconds": 20.0, "users": 40, "spawnRate": 20.0},
        {"durationSeconds": 5.0, "users": 0, "spawnRate": 5.0},
    ]
    assert plan.planned_seconds == 35
    (tmp_path / PLAN_FILENAME).write_text(plan.plan_json)
    (tmp_path / "payload-0").write_text("{}")
    config = parse_plan(json.loads(plan.plan_json), tmp_path)
    assert config.schedule.staged and config.schedule.peak_users == 40


def test_http_target_and_body_mix() -> None:
    payload = {
        "selection": "weighted",
        "bodies": [{"name": "short", "body": "a", "weight": 3}, {"body": "b"}],
    }
    target = {"http": {"url": "http://svc:8080/predict", "headers": {"X-A": "1"}}}
    plan = build_plan(
        spec(target=target, payload=payload), name="t", run_id="r", placement=PLACEMENT
    )
    assert plan.config["target"] == {
        "kind": "http",
        "url": "http://svc:8080/predict",
        "method": "POST",
        "headers": {"X-A": "1"},
    }
    assert plan.config["payload"]["bodies"] == [
        {"name": "short", "weight": 3, "file": "payload-0"},
        {"name": "body-1", "weight": 1, "file": "payload-1"},
    ]
    assert (plan.files["payload-0"], plan.files["payload-1"]) == ("a", "b")


def test_config_map_payload_rejected_locally_with_a_clear_error() -> None:
    payload = {"configMapKeyRef": {"name": "bodies", "key": "big.json"}}
    with pytest.raises(PlanError) as info:
        build_plan(spec(payload=payload), name="t", run_id="r", placement=PLACEMENT)
    message = str(info.value)
    assert "payload" in message and "bodies/big.json" in message and "inline" in message


def test_config_map_payload_mounted_by_the_runtime() -> None:
    payload = {"configMapKeyRef": {"name": "bodies", "key": "big.json"}}
    placement = Placement(
        plan_dir="/p", master_host="m", config_map_paths={"bodies/big.json": "/cm/big.json"}
    )
    plan = build_plan(spec(payload=payload), name="t", run_id="r", placement=placement)
    assert plan.config["payload"]["bodies"][0]["file"] == "/cm/big.json"
    assert set(plan.files) == {PLAN_FILENAME}


def test_inline_payload_is_bounded_to_fit_a_configmap_with_the_plan() -> None:
    from dataclasses import replace

    from endpoint_loadtest.engine.plan import MAX_INLINE_PAYLOAD_BYTES

    body = "x" * 60_000  # 100 of these: 6 MB, every one within its own 64 KiB limit
    many = {"bodies": [{"body": body} for _ in range(100)]}
    for placement in (PLACEMENT, replace(PLACEMENT, inline_bodies=True)):  # local, cluster
        with pytest.raises(PlanError) as info:
            build_plan(spec(payload=many), name="t", run_id="r", placement=placement)
        message = str(info.value)
        assert message.startswith("payload: ") and "configMapKeyRef" in message
        assert "5860 KiB" in message and "512 KiB" in message
    # escapes count as they are written: 100 KiB of quotes is 200 KiB in plan.json
    quotes = {"bodies": [{"body": '"' * 60_000} for _ in range(5)]}
    with pytest.raises(PlanError):
        build_plan(spec(payload=quotes), name="t", run_id="r", placement=PLACEMENT)
    # a 200 KiB body fits, and the whole plan with it stays well under 1 MiB
    big = spec(payload={"body": "y" * 200 * 1024})
    plan = build_plan(big, name="t", run_id="r", placement=replace(PLACEMENT, inline_bodies=True))
    assert sum(len(v.encode()) for v in plan.files.values()) < MAX_INLINE_PAYLOAD_BYTES + 16_384
