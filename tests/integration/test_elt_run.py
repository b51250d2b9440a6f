"""Real `elt run` (Locust master + workers as processes) against the SageMaker simulator.

The simulator counts exactly what it served; the product's figures must agree with it.
Loads are small (2 cores shared by the simulator, the master and the workers).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import yaml
from eltrun import document, elt_command, elt_env, sagemaker_target

pytestmark = pytest.mark.slow


def endpoint_stats(sim) -> dict:
    return sim.stats()["endpoints"][sim.endpoint]


def show(label: str, results: dict, served: dict | None = None) -> None:
    """The figures of a run, shown with `pytest -s` (kept for the record)."""
    keys = (
        "requests",
        "totalRequests",
        "tps",
        "windowSeconds",
        "maxWorkerCpuPercent",
        "errorRate",
        "errorsByType",
        "errorsByStatus",
    )
    figures = {k: results.get(k) for k in keys}
    figures["p50"] = results.get("latencyMs", {}).get("p50")
    served_part = f" simulator={served['requests']}" if served else ""
    print(f"\n[{label}] {figures}{served_part}")


def wait_for(condition, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_counts_and_tps_below_saturation(simulator, elt_run) -> None:
    # capacity 8 workers / 50 ms = 160 rps; 4 users offer about 4 / 52 ms = 77 rps
    sim = simulator(
        "--instances",
        "1",
        "--vcpus",
        "8",
        "--service-time-ms",
        "50",
        "--distribution",
        "constant",
        "--overhead-ms",
        "2",
    )
    load = {"users": 4, "spawnRate": 100, "workers": 2, "warmup": "1s", "duration": "6s"}
    run = elt_run(
        document(sagemaker_target(), load, {"minRequests": 100, "maxErrorRate": 0}), sim.env()
    )
    assert run.returncode == 0, run.explain()
    results = run.results
    served = endpoint_stats(sim)
    assert results["totalRequests"] == served["requests"] == served["successes"]
    assert 0 < results["requests"] < results["totalRequests"]
    offered = 4 / 0.052
    show(f"below saturation, offered {offered:.0f} rps, capacity 160", results, served)
    assert 0.8 * offered <= results["tps"] <= 1.02 * offered, results
    # no queueing: the latency is the service time plus overhead, not more
    assert 52 <= results["latencyMs"]["p50"] <= 65, results["latencyMs"]
    # A client never sees less than the server took; Locust's whole-ms buckets would
    # round 52.4 ms down to 52: the window's percentiles keep 3 significant digits.
    true_p50 = served["variants"]["AllTraffic"]["response_ms"]["p50"]
    assert results["latencyMs"]["p50"] >= true_p50 * 0.995, (results["latencyMs"], true_p50)
    assert results["maxWorkerCpuPercent"] is not None and results["maxWorkerCpuPercent"] > 0
    assert run.status["verdict"]["result"] == "Passed"
    for report in ("report.html", "locust_stats.csv", "timeseries.json", "master.log"):
        assert (run.output / report).stat().st_size > 0, report


def test_tps_above_saturation_is_capacity(simulator, elt_run) -> None:
    # capacity 2 workers / 20 ms = 100 rps; 16 users offer about 700 rps (queue 32: no 503s)
    sim = simulator(
        "--instances",
        "1",
        "--vcpus",
        "2",
        "--service-time-ms",
        "20",
        "--distribution",
        "constant",
        "--overhead-ms",
        "2",
    )
    load = {"users": 16, "spawnRate": 100, "workers": 2, "warmup": "2s", "duration": "8s"}
    run = elt_run(
        document(sagemaker_target(), load, {"minRequests": 100, "minTPS": 150}), sim.env()
    )
    assert run.returncode == 1, run.explain()  # Failed: minTPS 150 above what it can serve
    results = run.results
    served = endpoint_stats(sim)
    assert results["totalRequests"] == served["requests"] == served["successes"]
    capacity = 100.0
    show("above saturation, capacity 100 rps", results, served)
    assert 0.85 * capacity <= results["tps"] <= 1.03 * capacity, results
    # queueing: 16 in the system at 100 rps means about 160 ms each
    assert results["latencyMs"]["p50"] >= 120, results["latencyMs"]
    verdict = run.status["verdict"]
    assert verdict["result"] == "Failed" and "< 150" in verdict["message"]


ERROR_RATES = {
    "ValidationError": 0.03,
    "ThrottlingException": 0.03,
    "ModelError": 0.06,
    "ModelNotReadyException": 0.03,
    "InternalFailure": 0.03,
    "ServiceUnavailable": 0.06,
}
STATUS = {
    "ValidationError": 400,
    "ThrottlingException": 400,
    "ModelError": 424,
    "ModelNotReadyException": 429,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
}


def test_injected_errors_match_the_simulator(simulator, elt_run) -> None:
    rates = [f"{code}={rate}" for code, rate in ERROR_RATES.items()]
    sim = simulator(
        "--instances",
        "1",
        "--vcpus",
        "8",
        "--service-time-ms",
        "10",
        "--distribution",
        "constant",
        "--seed",
        "7",
        *[arg for rate in rates for arg in ("--error-rate", rate)],
    )
    load = {"users": 4, "spawnRate": 100, "workers": 2, "warmup": "1s", "duration": "6s"}
    run = elt_run(
        document(sagemaker_target(), load, {"minRequests": 100, "maxErrorRate": 0.05}), sim.env()
    )
    assert run.returncode == 1, run.explain()
    served = endpoint_stats(sim)
    results = run.results
    show(f"injected errors, simulator {served['by_error']}", results, served)
    assert results["totalRequests"] == served["requests"]
    assert set(served["by_error"]) == set(ERROR_RATES)
    # every phase: Locust's failures report names each error exactly as the simulator counted
    by_name = run.failures_csv_by_error()
    expected = {f"{code} (HTTP {STATUS[code]})": n for code, n in served["by_error"].items()}
    assert by_name == expected
    # the window: a subset, broken down by type and by status class consistently
    window = results["errorsByType"]
    assert set(window) == set(ERROR_RATES)
    assert all(0 < window[code] <= served["by_error"][code] for code in window)
    assert sum(window.values()) == results["failures"]
    by_status = results["errorsByStatus"]
    assert by_status["4xx"] == sum(n for c, n in window.items() if STATUS[c] < 500)
    assert by_status["5xx"] == sum(n for c, n in window.items() if STATUS[c] >= 500)
    assert 0.15 <= results["errorRate"] <= 0.33, results  # injected: 24%
    verdict = run.status["verdict"]
    assert verdict["result"] == "Failed" and "error rate" in verdict["message"]


def test_connection_refused_is_failed_or_inconclusive(elt_run) -> None:
    with socket.socket() as sock:  # bound, never listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        load = {"users": 2, "spawnRate": 100, "workers": 1, "duration": "3s"}
        run = elt_run(
            document(sagemaker_target(), load, {"maxErrorRate": 0.01, "minRequests": 1}),
            {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": url},
        )
    assert run.returncode in (1, 2), run.explain()
    assert "Traceback" not in run.stderr
    results = run.results
    show(f"connection refused: {run.status['verdict']['message']}", results)
    assert results["requests"] > 0
    assert results["failures"] == results["requests"]
    assert results["errorsByType"] == {"ConnectionError": results["requests"]}
    assert results["errorsByStatus"] == {"none": results["requests"]}
    assert run.status["verdict"]["result"] in ("Failed", "Inconclusive")
    # failing at once, the users spin: the worker's CPU over even a 3 s window shows it
    assert results["maxWorkerCpuPercent"] >= 50, results


def test_http_target_without_auth(simulator, elt_run) -> None:
    sim = simulator(
        "--auth", "none", "--vcpus", "4", "--service-time-ms", "10", "--distribution", "constant"
    )
    target = {"http": {"url": f"{sim.url}/endpoints/{sim.endpoint}/invocations"}}
    load = {"users": 3, "spawnRate": 100, "workers": 1, "warmup": "1s", "duration": "4s"}
    run = elt_run(document(target, load, {"minRequests": 50, "maxErrorRate": 0}))
    assert run.returncode == 0, run.explain()
    served = endpoint_stats(sim)
    assert run.results["totalRequests"] == served["requests"] == served["successes"]
    assert run.results["failures"] == 0


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _start_long_run(sim, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """`elt run` with a 60 s window, returned once the window has seen some requests."""
    load = {"users": 2, "spawnRate": 100, "workers": 2, "duration": "60s"}
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(document(sagemaker_target(), load, {"minRequests": 10})))
    output = tmp_path / "out"
    proc = subprocess.Popen(
        elt_command(path, output),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=elt_env(sim.env()),
    )
    try:
        master_log = output / "master.log"
        wait_for(
            lambda: master_log.exists() and "measurement window opened" in master_log.read_text(),
            60,
            "the measurement window to open",
        )
        seen = endpoint_stats(sim)["requests"]
        wait_for(lambda: endpoint_stats(sim)["requests"] > seen + 50, 30, "requests in window")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, output


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_writes_what_was_measured_and_leaves_nothing(
    simulator, tmp_path: Path, sig: signal.Signals
) -> None:
    sim = simulator("--vcpus", "4", "--service-time-ms", "10", "--distribution", "constant")
    proc, output = _start_long_run(sim, tmp_path)
    try:
        children = _descendants(proc.pid)
        assert len(children) >= 3, children  # master and two workers
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, f"{proc.returncode}\n{stdout}\n{stderr}"
    assert "Traceback" not in stderr
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, alive
    document_ = json.loads((output / "result.json").read_text())
    status = document_["status"]
    assert status["verdict"]["result"] == "Inconclusive"
    assert "stopped before the end" in status["verdict"]["message"]
    results = status["results"]
    assert results["requests"] > 0 and 0 < results["windowSeconds"] < 60
    assert results["totalRequests"] == endpoint_stats(sim)["requests"]
    assert (output / "report.html").exists()
    assert not os.path.exists(output / "nonexistent")


def test_master_dying_mid_run_is_an_error_not_a_crash(simulator, tmp_path: Path) -> None:
    sim = simulator("--vcpus", "4", "--service-time-ms", "10", "--distribution", "constant")
    proc, output = _start_long_run(sim, tmp_path)
    try:
        children = _descendants(proc.pid)
        master = next(c for c in children if "--master" in c.cmdline())
        master.kill()
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3, f"{proc.returncode}\n{stdout}\n{stderr}"
    assert "Traceback" not in stderr + stdout
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, alive
    status = json.loads((output / "result.json").read_text())["status"]
    assert status["phase"] == "Error"
    assert "master" in status["message"], status["message"]
