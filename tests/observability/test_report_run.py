"""`elt run` writes our report.html beside Locust's (locust-report.html), from its status.

A real run (open model, CloudWatch on: the simulator publishes to moto extended with
percentiles), opened in headless Chromium: the verdict's TPS is the one shown, the
series covers the run with its measured window, and CloudWatch's ModelLatency and
OverheadLatency stand beside the client's.
"""

from __future__ import annotations

import pytest

from browser import dump_dom, inked_rows, screenshot
from conftest import load_test, run_elt

pytestmark = pytest.mark.slow


def test_elt_run_writes_our_report_from_the_status(simulator, moto_percentiles, tmp_path):
    sim = simulator(
        "--endpoint", "report-e2e", "--metrics-period", "1", "--metrics-format", "values",
        "--seed", "5",
        cloudwatch_url=moto_percentiles,
    )  # fmt: skip
    doc = load_test(
        "report-e2e",
        sim.endpoint,
        thresholds={"minRequests": 10, "latencyMs": {"p99": 2000}},
        cloudwatch={"enabled": True, "period": 1, "instanceVcpus": 4, "lastPeriodTimeout": "20s"},
    )
    doc["spec"]["load"] = {"targetTPS": 30, "workers": 1, "warmup": "2s", "duration": "5s"}
    proc, document = run_elt(
        doc, tmp_path, {**sim.env(), "AWS_ENDPOINT_URL_CLOUDWATCH": moto_percentiles}
    )
    status = document["status"]
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{status.get('verdict')}"
    output = tmp_path / "out-report-e2e"
    assert (output / "locust-report.html").stat().st_size > 0
    page = output / "report.html"
    assert f"report: {page}" in proc.stdout

    series, results = status["series"], status["results"]
    assert len(series["t"]) >= 5 and series["stride"] == 1
    assert series["start"] <= series["windowStart"] < series["windowEnd"]
    assert series["windowEnd"] - series["windowStart"] == pytest.approx(
        results["windowSeconds"], abs=0.01
    )
    assert set(series["targetTPS"]) <= {None, 30.0} and 30.0 in series["targetTPS"]

    dom = dump_dom(page)
    figures = dom[dom.index('id="figures"') : dom.index("Over time")]
    assert f"{results['successTps']:,.1f}/s" in figures
    cloudwatch = results["cloudwatch"]
    section = dom[dom.index('id="cloudwatch"') :]
    for name in ("ModelLatency (CloudWatch)", "OverheadLatency (CloudWatch)", "client (Locust)"):
        assert name in section
    assert f"{cloudwatch['invocations']:,.6g} invocations" in section
    assert dom.count('class="title plot_title"') == 6
    image = screenshot(page, tmp_path / "report.png", height=3000)
    assert inked_rows(image) > 1500
