"""`elt report NAME -n NAMESPACE`: the report of a test in the cluster, from its status.

The operator grows status.series while the test runs (engine/timeline), so the report
drawn from the resource has the same charts as `elt run`'s; a missing test, one the
operator has not started, and a cluster out of reach are clear errors.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import apply, get_test, load_test

from browser import dump_dom

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]


def elt_report(kube_cluster: Any, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KUBECONFIG": str(kube_cluster.kubeconfig)}
    return subprocess.run(
        [sys.executable, "-m", "endpoint_loadtest.cli", "report", *args],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip


def test_report_of_a_finished_test_from_its_status(
    kube_cluster: Any, namespace: str, elt_operator: Any, sim_endpoint: Any, tmp_path: Path
) -> None:
    # 15 s of load: the operator writes live figures, and so a point, every 5 s at most
    apply(kube_cluster, namespace, load_test("reported", sim_endpoint.endpoint, duration="15s"))
    waited = kube_cluster.kubectl(
        "wait", "elt/reported", "-n", namespace, "--for=condition=Completed", "--timeout=150s",
        check=False, timeout=160,
    )  # fmt: skip
    assert waited.returncode == 0, waited.stderr + elt_operator.log()[-3000:]
    status = get_test(kube_cluster, namespace, "reported")["status"]
    assert status["verdict"]["result"] == "Passed", status["verdict"]
    series = status["series"]
    assert len(series["t"]) >= 3, series
    assert series["start"] <= series["windowStart"]
    assert any(rps for rps in series["rps"]), series["rps"]

    page = tmp_path / "reported.html"
    proc = elt_report(kube_cluster, "reported", "-n", namespace, "-o", str(page))
    assert proc.returncode == 0, proc.stderr
    assert f"report: {page} ({namespace}/reported: Passed)" in proc.stdout
    dom = dump_dom(page)
    assert "<b>Passed</b>" in dom
    figures = dom[dom.index('id="figures"') : dom.index("Over time")]
    assert f"{status['results']['successTps']:,.1f}/s" in figures
    assert dom.count('class="title plot_title"') == 5  # the time series; no CloudWatch here


def test_report_errors_name_the_cause(
    kube_cluster: Any, namespace: str, crd_installed: None, tmp_path: Path
) -> None:
    missing = elt_report(kube_cluster, "nope", "-n", namespace, "-o", str(tmp_path / "x.html"))
    assert missing.returncode == 3
    assert f"EndpointLoadTest {namespace}/nope not found" in missing.stderr
    assert "Traceback" not in missing.stderr

    # No operator watches this namespace: the test is stored but never started.
    apply(kube_cluster, namespace, load_test("unstarted", "sim-endpoint"))
    unstarted = elt_report(kube_cluster, "unstarted", "-n", namespace)
    assert unstarted.returncode == 3
    assert f"EndpointLoadTest {namespace}/unstarted has no status yet" in unstarted.stderr
    assert not (tmp_path / "x.html").exists()
