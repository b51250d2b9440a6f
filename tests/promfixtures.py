"""A real Prometheus server (Debian's package), for tests that check what it scrapes.

`prometheus` (module scope): a server scraping 127.0.0.1:`prometheus.target_port`
every second; start the exporter under test there. hack/prometheus.sh installs the
server when it is missing; a machine where it cannot is a failure, never a skip.
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

from simfixtures import _watch_lines, free_port, terminate

ROOT = Path(__file__).resolve().parents[1]


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
        terminate(proc)
