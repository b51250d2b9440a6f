"""The real `elt` command on bad input: one clear message naming the field, exit 3."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ELT = Path(sys.executable).with_name("elt")
GOOD: dict[str, Any] = {
    "apiVersion": "perf.elt.dev/v1alpha1",
    "kind": "EndpointLoadTest",
    "metadata": {"name": "cli"},
    "spec": {
        "target": {"sagemaker": {"endpointName": "ep", "region": "us-east-1"}},
        "payload": {"body": "{}"},
        "load": {"users": 1, "duration": "1s"},
    },
}


def elt(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(ELT)] if ELT.exists() else [sys.executable, "-m", "endpoint_loadtest.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def write(tmp_path: Path, data: Any, name: str = "test.yaml") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(path)


def with_load(**load: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    data["spec"]["load"].update(load)
    return data


BAD = {
    "malformed": ("spec: [unclosed\n", "not valid YAML at line"),
    "unknown": (with_load(userz=3), "spec.load.userz: unknown field"),
    "wrong-type": (with_load(users="many"), "spec.load.users: "),
    "out-of-range": (with_load(users=0), "spec.load.users: must be >= 1 (got 0)"),
    "bad-duration": (with_load(duration="soon"), "spec.load.duration: "),
    "not-a-test": ({"apiVersion": "v1", "kind": "Pod"}, "expected apiVersion"),
}


def assert_clean_error(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert words in result.stderr, result.stderr


@pytest.mark.parametrize("case", sorted(BAD))
def test_validate_bad_input(tmp_path: Path, case: str) -> None:
    data, words = BAD[case]
    result = elt("validate", write(tmp_path, data))
    assert_clean_error(result, words)
    assert result.stderr.startswith("invalid: ")


@pytest.mark.parametrize("case", ["malformed", "unknown", "out-of-range"])
def test_run_bad_input_starts_nothing(tmp_path: Path, case: str) -> None:
    data, words = BAD[case]
    out = tmp_path / "out"
    result = elt("run", write(tmp_path, data), "-o", str(out), "-q")
    assert_clean_error(result, words)
    assert not out.exists()


def test_validate_good_and_examples(tmp_path: Path) -> None:
    result = elt("validate", write(tmp_path, GOOD))
    assert result.returncode == 0, result.stderr
    assert "valid EndpointLoadTest 'cli'" in result.stdout
    result = elt("validate", str(ROOT / "examples" / "distilbert-demo.yaml"))
    assert result.returncode == 0, result.stderr


def test_missing_file_and_usage_errors(tmp_path: Path) -> None:
    assert_clean_error(elt("validate", str(tmp_path / "missing.yaml")), "cannot read")
    assert_clean_error(elt("run"), "the following arguments are required")
    assert_clean_error(elt("frobnicate"), "invalid choice")
    assert_clean_error(elt("run", write(tmp_path, GOOD), "--workers", "x"), "--workers")
    result = elt("run", write(tmp_path, GOOD), "--workers", "0", "-o", str(tmp_path / "o"))
    assert_clean_error(result, "--workers must be at least 1")


def test_config_map_payload_cannot_run_locally(tmp_path: Path) -> None:
    data = copy.deepcopy(GOOD)
    data["spec"]["payload"] = {"configMapKeyRef": {"name": "bodies", "key": "a.json"}}
    out = tmp_path / "out"
    result = elt("run", write(tmp_path, data), "-o", str(out), "-q")
    assert result.returncode == 3, result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    assert "ConfigMap bodies/a.json" in result.stdout + result.stderr
    status = json.loads((out / "result.json").read_text())["status"]
    assert status["phase"] == "Error" and "ConfigMap bodies/a.json" in status["message"]


def test_progress_line_shows_the_target_rate_in_the_open_model() -> None:
    from endpoint_loadtest.api.models import Progress
    from endpoint_loadtest.local.progress import progress_line

    open_line = progress_line(Progress(stage="measuring", users=0, target_tps=250.0), (2, 2))
    assert "target 250/s" in open_line and "users" not in open_line
    closed_line = progress_line(Progress(stage="measuring", users=40), (2, 2))
    assert "users 40" in closed_line and "target" not in closed_line
