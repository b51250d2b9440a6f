"""The conductor's error paths, with a real Locust master process and no workers."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from eltrun import document, elt_env, sagemaker_target

from endpoint_loadtest.api.loader import parse_document
from endpoint_loadtest.engine.observe import MasterClient, MasterUnavailable, ResultUnverified
from endpoint_loadtest.engine.plan import Placement, Plan, ProcessPlan, build_plan
from endpoint_loadtest.engine.signing import new_token
from endpoint_loadtest.local.processes import ProcessGroup, free_port
from localcluster.waiting import wait_until

pytestmark = pytest.mark.slow
TOKEN = new_token()


def _ask(port: int, path: str, method: str = "GET", token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = b"user_count=1000&spawn_rate=1000" if method == "POST" else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _lonely_master(
    tmp_path: Path, monkeypatch, connect_timeout: float = 2
) -> tuple[ProcessGroup, MasterClient, int, Plan]:
    """A real master expecting two workers (none started), with its run token in a file."""
    for key, value in elt_env().items():
        monkeypatch.setenv(key, value)
    spec = parse_document(
        document(sagemaker_target(), {"users": 2, "workers": 2, "duration": "5s"})
    ).spec
    web_port = free_port()
    token_file = tmp_path / "run-token"
    token_file.write_text(TOKEN)
    placement = Placement(
        plan_dir=str(tmp_path),
        master_host="127.0.0.1",
        master_bind_host="127.0.0.1",
        web_host="127.0.0.1",
        master_port=free_port(),
        web_port=web_port,
        worker_connect_timeout_seconds=connect_timeout,
        token_file=str(token_file),
    )
    plan = build_plan(spec, name="lonely", run_id="r", placement=placement)
    for name, content in plan.files.items():
        (tmp_path / name).write_text(content)
    group = ProcessGroup(log_dir=tmp_path)
    client = MasterClient(f"http://127.0.0.1:{web_port}", token=TOKEN, run_id="r")
    group.start("master", plan.master)  # and no worker
    return group, client, web_port, plan


def test_worker_that_never_connects_ends_in_error(tmp_path: Path, monkeypatch) -> None:
    group, client, _, _ = _lonely_master(tmp_path, monkeypatch)
    try:
        deadline = time.monotonic() + 60
        snapshot = None
        while time.monotonic() < deadline:
            assert not group.exited(), group.log_tail("master")
            try:
                snapshot = client.poll()
            except MasterUnavailable:
                snapshot = None
            if snapshot is not None and snapshot.finished:
                break
            time.sleep(0.2)
        assert snapshot is not None and snapshot.finished, "the conductor never gave up"
        assert snapshot.state == "error"
        assert snapshot.status["message"] == "only 0 of 2 worker(s) connected within 2s"
        assert snapshot.status["workers"] == {"expected": 2, "connected": 0, "list": []}
        assert client.result() is None  # /elt/result answers 409 without a result
        assert "only 0 of 2 worker(s)" in (tmp_path / "master.log").read_text()
    finally:
        group.stop()
    assert all(code is not None for code in group.exited().values())


def test_the_masters_api_refuses_every_request_without_the_run_token(
    tmp_path: Path, monkeypatch
) -> None:
    group, client, port, _ = _lonely_master(tmp_path, monkeypatch)
    try:
        wait_until(lambda: _ask(port, "/elt/healthz") == 200, timeout=60, what="the master")
        for method, path in [
            ("GET", "/elt/status"), ("GET", "/elt/result"), ("POST", "/elt/stop"),
            ("POST", "/swarm"), ("GET", "/stats/reset"), ("GET", "/stop"), ("GET", "/"),
            ("GET", "/stats/requests"), ("GET", "/stats/report"),
        ]:  # fmt: skip
            assert _ask(port, path, method) == 401, path
            assert _ask(port, path, method, token="wrong-" + TOKEN[6:]) == 401, path
        assert _ask(port, "/elt/status", token=TOKEN) == 200
        assert client.poll().status["runId"] == "r"
    finally:
        group.stop()


def test_a_worker_without_the_run_token_gets_the_result_refused(
    tmp_path: Path, monkeypatch
) -> None:
    group, client, _, plan = _lonely_master(tmp_path, monkeypatch, connect_timeout=60)
    stranger_token = tmp_path / "stranger-token"
    stranger_token.write_text(new_token())
    env = {**plan.worker.env, "ELT_TOKEN_FILE": str(stranger_token)}
    stranger = ProcessPlan(plan.worker.command, env)
    try:
        group.start("worker-0", plan.worker)
        group.start("stranger", stranger)  # a Locust worker that does not know the token

        def finished() -> bool:
            assert not group.exited(), group.exited()
            try:
                return client.poll().finished
            except MasterUnavailable:
                return False

        wait_until(finished, timeout=90, what="the run to finish")
        with pytest.raises(ResultUnverified, match="without proving the run's token"):
            client.result()
    finally:
        group.stop()
