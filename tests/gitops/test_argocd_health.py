"""The Argo CD health check, run as Lua (lupa) on objects shaped like real ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import LuaRuntime

from endpoint_loadtest.api.loader import parse_document
from endpoint_loadtest.api.models import Results, Thresholds
from endpoint_loadtest.engine.judge import judge
from endpoint_loadtest.engine.status import completed_status, error_status

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "argocd"
HEALTH = (EXAMPLES / "health.lua").read_text()


def health(obj: dict[str, Any]) -> dict[str, str]:
    lua = LuaRuntime(unpack_returned_tuples=True)
    table = _to_lua(lua, json.loads(json.dumps(obj)))
    function = lua.eval(f"function(obj)\n{HEALTH}\nend")
    result = function(table)
    return {"status": result["status"], "message": result["message"] or ""}


def _to_lua(lua: LuaRuntime, value: Any) -> Any:
    if isinstance(value, dict):
        return lua.table_from({k: _to_lua(lua, v) for k, v in value.items() if v is not None})
    if isinstance(value, list):
        return lua.table_from([_to_lua(lua, v) for v in value])
    return value


def _test(status: dict[str, Any] | None, generation: int = 1) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "perf.elt.dev/v1alpha1",
        "kind": "EndpointLoadTest",
        "metadata": {"name": "gate", "generation": generation},
        "spec": {},
    }
    if status is not None:
        obj["status"] = status
    return obj


def _completed(requests: int, tps: float, p99: float) -> dict[str, Any]:
    results = Results(requests=requests, tps=tps, success_tps=tps, window_seconds=60)
    results.latency_ms.p99 = p99
    verdict = judge(results, Thresholds(min_tps=100, latency_ms={"p99": 200}))
    return completed_status(
        run_id="r1", started_at=None, results=results, verdict=verdict
    ).to_wire()


def test_a_new_resource_is_progressing() -> None:
    assert health(_test(None))["status"] == "Progressing"


@pytest.mark.parametrize("phase", ["Pending", "Starting", "Running", "Evaluating"])
def test_a_running_test_is_progressing(phase: str) -> None:
    status = {"phase": phase, "progress": {"elapsedSeconds": 12, "totalSeconds": 60}}
    result = health(_test(status))
    assert result["status"] == "Progressing"
    assert "12s of 60s" in result["message"]


def test_a_passed_verdict_is_healthy() -> None:
    result = health(_test(_completed(6000, 150.0, 120)))
    assert result == {"status": "Healthy", "message": "Passed: all 4 checks met."}


def test_a_failed_verdict_is_degraded_with_the_reason() -> None:
    result = health(_test(_completed(6000, 50.0, 120)))
    assert result["status"] == "Degraded"
    assert "TPS 50.0 < 100" in result["message"]


def test_an_inconclusive_verdict_is_degraded() -> None:
    result = health(_test(_completed(10, 150.0, 120)))
    assert result["status"] == "Degraded"
    assert result["message"].startswith("Inconclusive")


def test_an_error_is_degraded() -> None:
    status = error_status(run_id="r1", started_at=None, message="image not found").to_wire()
    assert health(_test(status)) == {"status": "Degraded", "message": "image not found"}


def test_a_changed_spec_not_yet_picked_up_is_progressing() -> None:
    status = _completed(6000, 150.0, 120) | {"observedGeneration": 1}
    assert health(_test(status, generation=2))["status"] == "Progressing"


def test_the_gate_example_is_a_valid_document() -> None:
    parse_document(yaml.safe_load((EXAMPLES / "gate.yaml").read_text()), "gate.yaml")
