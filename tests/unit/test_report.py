"""report.html from a status: the verdict first, one figure for one thing, nothing fetched."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from endpoint_loadtest.report.render import render_report

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "report"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def render(document: dict) -> str:
    return render_report(document["status"], document["spec"], document["metadata"]["name"])


def titles(html: str) -> list[str]:
    return re.findall(r'<text[^>]*class="title plot_title"[^>]*>([^<]+)</text>', html)


def assert_self_contained(html: str) -> None:
    """Nothing a browser would fetch: no src/href to anywhere, no @import, no url(http...)."""
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=", html)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    assert "@import" not in html and not re.search(r"url\(\s*['\"]?https?:", html)


def test_single_test_report_has_the_verdict_first_then_the_charts() -> None:
    html = render(fixture("single-result.json"))
    assert html.index('id="verdict"') < html.index('id="checks"') < html.index("<svg")
    assert "Failed: successful TPS 119.3 &lt; 150." in html
    assert titles(html) == [
        "Throughput", "Latency (live)", "Errors", "Load", "Load generator CPU",
        "Latency over the window",
    ]  # fmt: skip
    assert html.count("measured window") >= 5  # the band's legend in each time chart
    assert "ModelLatency (CloudWatch)" in html and "OverheadLatency (CloudWatch)" in html
    assert_self_contained(html)


def test_the_tps_shown_is_the_verdicts_never_locusts_run_average() -> None:
    document = fixture("single-result.json")
    results = document["status"]["results"]
    html = render(document)
    figures = html[html.index('id="figures"') : html.index("<h2>Over time")]
    assert f"{results['successTps']:,.1f}/s" in figures
    # Locust's own report divides the window's requests by the whole run's length:
    run_seconds = document["status"]["series"]["t"][-1] if document["status"]["series"]["t"] else 0
    locust_average = results["requests"] / run_seconds
    assert f"{locust_average:,.1f}" not in html
    assert "over the window (the verdict" in html  # the window's TPS drawn over the series


def test_search_report_has_the_curve_the_knee_and_the_recommendation() -> None:
    document = fixture("search-result.json")
    html = render(document)
    capacity = document["status"]["capacity"]
    assert html.index('id="verdict"') < html.index('id="capacity"') < html.index("<svg")
    assert titles(html) == [
        "Achieved vs offered TPS", "Latency vs achieved TPS", "Error rate vs offered TPS",
    ]  # fmt: skip
    assert len(re.findall(r"<svg", html)) == 3
    for part in html.split("<svg")[1:]:  # the knee marked in each chart
        assert "knee: the max TPS within the SLO" in part
    assert "181.25/s" in html and "181.2/s" not in html  # the figure as the search found it
    recommendation = html[html.index('id="recommendation"') :]
    assert "<b>9</b>" in recommendation
    assert "SageMakerVariantInvocationsPerInstance" in recommendation
    assert "5,437.5" in recommendation
    assert html.count("<tr>") >= len(capacity["steps"]) + 1
    assert "Over time" not in html  # a search's report is the curve, not one run's series
    assert_self_contained(html)


def test_an_unfinished_search_says_at_least_and_has_no_recommendation() -> None:
    document = fixture("search-result.json")
    capacity = document["status"]["capacity"]
    capacity.update(atLeast=True, limitedBy=None, recommendation=None)
    html = render(document)
    assert "at least 181.25/s" in html
    assert "None: search.targetTPS was not set" in html


def test_a_status_without_series_or_results_still_renders_and_says_so() -> None:
    html = render_report({"phase": "Running", "message": "measuring"}, {}, "t")
    assert "Running" in html and "No time series in the status." in html
    assert "<svg" not in html


def test_user_text_is_escaped() -> None:
    document = copy.deepcopy(fixture("single-result.json"))
    document["status"]["verdict"]["message"] = "<script>alert(1)</script>"
    html = render(document)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


@pytest.mark.parametrize("missing", ["p50Ms", "failures"])
def test_a_figure_not_measured_is_left_out_not_drawn_as_zero(missing: str) -> None:
    document = fixture("single-result.json")
    series = document["status"]["series"]
    series[missing] = [None] * len(series["t"])
    assert "<svg" in render(document)
