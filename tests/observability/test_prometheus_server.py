"""A real Prometheus server scrapes `elt run --metrics-port` during an end-to-end run.

Debian's prometheus package (hack/prometheus.sh installs it when missing); the
simulator serves the endpoint and publishes its CloudWatch metrics to moto (extended
with percentiles, see conftest). PromQL through Prometheus's HTTP API must return the
test's TPS, p99 and CloudWatch figures with the values written in result.json.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import load_test, run_elt
from simfixtures import _watch_lines, free_port

ROOT = Path(__file__).resolve().parents[2]


def prometheus_binary() -> str:
    proc = subprocess.run(
        ["sh", str(ROOT / "hack" / "prometheus.sh")], capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        pytest.fail(
            "a Prometheus server is needed and hack/prometheus.sh could not provide one "
            f"(exit {proc.returncode}):\n{proc.stderr[-2000:]}"
        )
    return proc.stdout.strip().splitlines()[-1]


class Prometheus:
    def __init__(self, url: str, target_port: int) -> None:
        self.url = url
        self.target_port = target_port

    def query(self, promql: str) -> list[dict]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]["result"]

    def targets(self) -> list[dict]:
        with urllib.request.urlopen(f"{self.url}/api/v1/targets", timeout=10) as response:
            return json.loads(response.read())["data"]["activeTargets"]

    def wait_for_target(self, timeout: float = 30.0) -> None:
        """Prometheus applies discovered targets after a few seconds: wait until it
        scrapes ours (down, as nothing serves it yet) so that the whole run is seen."""
        deadline = time.monotonic() + timeout
        while not any(t.get("lastScrape", "").startswith("2") for t in self.targets()):
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus did not scrape its target in {timeout}s")
            time.sleep(0.2)

    def value(self, promql: str, timeout: float = 20.0) -> float:
        """The single series' value, once Prometheus has it (it stores a scrape after
        reading it: poll the API until the sample is there)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if result:
                assert len(result) == 1, result
                return float(result[0]["value"][1])
            if time.monotonic() > deadline:
                seen = self.query(
                    'count by (__name__, run) (last_over_time({__name__=~"elt_.+"}[5m]))'
                )
                with urllib.request.urlopen(f"{self.url}/api/v1/targets", timeout=10) as r:
                    up = [t.get("lastError") for t in json.loads(r.read())["data"]["activeTargets"]]
                raise AssertionError(
                    f"no result for {promql} within {timeout}s; Prometheus has: "
                    f"{[r['metric'] for r in seen]}; up: {up}"
                )
            time.sleep(0.2)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    binary = prometheus_binary()
    workdir = tmp_path_factory.mktemp("prometheus")
    target_port, port = free_port(), free_port()
    config = workdir / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: elt\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
    )
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=info",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _watch_lines(
            proc.stderr,
            lambda line: "Server is ready to receive web requests" in line,
            60.0,
            proc,
            workdir / "prometheus.log",
        )
        server = Prometheus(f"http://127.0.0.1:{port}", target_port)
        server.wait_for_target()
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_prometheus_scrapes_a_run(prometheus, simulator, moto_percentiles, tmp_path):
    sim = simulator(
        "--endpoint", "prom-e2e", "--metrics-period", "1", "--metrics-format", "values",
        "--seed", "11",
        cloudwatch_url=moto_percentiles,
    )  # fmt: skip
    doc = load_test(
        "prom-e2e",
        sim.endpoint,
        thresholds={
            "minRequests": 10,
            "latencyMs": {"p99": 2000},
            "cloudwatch": {"modelLatencyMs": {"p99": 2000}, "max5xxRate": 0.5},
        },
        cloudwatch={"enabled": True, "period": 1, "instanceVcpus": 4, "lastPeriodTimeout": "20s"},
    )
    began = time.monotonic()
    proc, document = run_elt(
        doc,
        tmp_path,
        {**sim.env(), "AWS_ENDPOINT_URL_CLOUDWATCH": moto_percentiles},
        "--metrics-port",
        str(prometheus.target_port),
    )
    elapsed = time.monotonic() - began
    status = document["status"]
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{status.get('verdict')}"
    assert f"metrics: http://127.0.0.1:{prometheus.target_port}/metrics" in proc.stdout
    assert "the final figures were not scraped" not in proc.stdout
    results, run = status["results"], status["runId"]
    selector = f'namespace="default", name="prom-e2e", run="{run}"'

    # Final figures: Prometheus keeps the last scrape; the target is gone now, so read
    # the newest sample in a range (an instant vector would see the staleness marker).
    tps = prometheus.value(f"last_over_time(elt_achieved_tps{{{selector}}}[5m])")
    assert tps == pytest.approx(results["tps"])
    p99 = prometheus.value(
        f'last_over_time(elt_response_time_seconds{{{selector}, percentile="p99"}}[5m])'
    )
    assert p99 == pytest.approx(results["latencyMs"]["p99"] / 1000)
    verdict = prometheus.value(
        f'last_over_time(elt_test_verdict{{{selector}, verdict="Passed"}}[5m])'
    )
    assert verdict == 1

    # The endpoint's CloudWatch figures, in status and through Prometheus.
    cloudwatch = results["cloudwatch"]
    assert cloudwatch["invocations"] == sim.stats()["endpoints"]["prom-e2e"]["requests"]
    assert cloudwatch["complete"] is True
    invocations = prometheus.value(
        f"last_over_time(elt_endpoint_invocations_total{{{selector}}}[5m])"
    )
    assert invocations == cloudwatch["invocations"]
    model_p99 = prometheus.value(
        f'last_over_time(elt_endpoint_model_latency_seconds{{{selector}, percentile="p99"}}[5m])'
    )
    assert model_p99 == pytest.approx(cloudwatch["modelLatencyMs"]["p99"] / 1000)
    checks = {c["name"]: c for c in status["verdict"]["checks"]}
    assert checks["cloudwatch.modelLatencyMs.p99"]["passed"]
    assert checks["cloudwatch.max5xxRate"]["observed"] == cloudwatch["error5xxRate"]
    condition = next(c for c in status["conditions"] if c["type"] == "CloudWatchAvailable")
    assert condition["status"] == "True", condition
    assert "CloudWatch prom-e2e/AllTraffic" in proc.stdout  # shown under the verdict table

    # Live figures were scraped while it ran.
    running = prometheus.value(f'max_over_time(elt_test_phase{{{selector}, phase="Running"}}[5m])')
    assert running == 1
    # (Locust's current RPS lags workers' 3-second reports: too slow for a 3 s window.)
    users = prometheus.value(f"max_over_time(elt_users{{{selector}}}[5m])")
    assert users == 4
    connected = prometheus.value(f"max_over_time(elt_workers_connected{{{selector}}}[5m])")
    assert connected == 1
    print(f"elt run with CloudWatch and Prometheus: {elapsed:.1f}s")


def test_promtool_finds_nothing_to_lint():
    """Prometheus's own linter (promtool, from the same package) on a full exposition."""
    from prometheus_client import generate_latest
    from test_exporter import FULL_SPEC, FULL_STATUS, LIVE_SNAPSHOT, LIVE_STATUS, registry_with

    from endpoint_loadtest.observability.exporter import LoadTestExporter

    promtool = Path(prometheus_binary()).with_name("promtool")
    exporter = LoadTestExporter()
    exporter.update("ns", "done", FULL_STATUS, spec=FULL_SPEC)
    exporter.update("ns", "running", LIVE_STATUS, snapshot=LIVE_SNAPSHOT, spec=FULL_SPEC)
    text = generate_latest(registry_with(exporter))
    proc = subprocess.run(
        [str(promtool), "check", "metrics"], input=text, capture_output=True, timeout=30
    )
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
