"""The conductor's error paths, with a real Locust master process and no workers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from eltrun import document, elt_env, sagemaker_target

from endpoint_loadtest.api.loader import parse_document
from endpoint_loadtest.engine.observe import MasterClient, MasterUnavailable
from endpoint_loadtest.engine.plan import Placement, build_plan
from endpoint_loadtest.local.processes import ProcessGroup, free_port

pytestmark = pytest.mark.slow


def test_worker_that_never_connects_ends_in_error(tmp_path: Path, monkeypatch) -> None:
    for key, value in elt_env().items():
        monkeypatch.setenv(key, value)
    spec = parse_document(
        document(sagemaker_target(), {"users": 2, "workers": 2, "duration": "5s"})
    ).spec
    web_port = free_port()
    placement = Placement(
        plan_dir=str(tmp_path),
        master_host="127.0.0.1",
        master_bind_host="127.0.0.1",
        web_host="127.0.0.1",
        master_port=free_port(),
        web_port=web_port,
        worker_connect_timeout_seconds=2,
    )
    plan = build_plan(spec, name="lonely", run_id="r", placement=placement)
    for name, content in plan.files.items():
        (tmp_path / name).write_text(content)
    group = ProcessGroup(log_dir=tmp_path)
    client = MasterClient(f"http://127.0.0.1:{web_port}")
    group.start("master", plan.master)  # and no worker
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
