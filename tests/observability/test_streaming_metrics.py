"""The token stream's series: base units, by percentile, live and final."""

from __future__ import annotations

import pytest
from test_exporter import FULL_STATUS, STREAMED_SPEC, STREAMED_STATUS, scrape, value

from endpoint_loadtest.observability.exporter import LoadTestExporter


def test_streaming_series_in_seconds_and_tokens() -> None:
    exporter = LoadTestExporter()
    exporter.update("team-a", "llm", STREAMED_STATUS, spec=STREAMED_SPEC)
    samples = scrape(exporter)
    assert value(samples, "elt_ttft_seconds", percentile="p99") == pytest.approx(0.41)
    assert value(samples, "elt_tpot_seconds", percentile="p50") == pytest.approx(0.018)
    assert value(samples, "elt_itl_seconds", percentile="p90") == pytest.approx(0.024)
    assert value(samples, "elt_current_ttft_seconds", percentile="p50") == pytest.approx(0.125)
    assert value(samples, "elt_current_tpot_seconds", percentile="p99") == pytest.approx(0.033)
    assert value(samples, "elt_current_output_tokens_per_second") == 8950.0
    assert value(samples, "elt_window_output_tokens_per_second") == 9000.0
    assert value(samples, "elt_output_tokens_total") == 570000
    assert value(samples, "elt_goodput_requests_per_second") == pytest.approx(133.3)
    assert value(samples, "elt_ttft_limit_seconds", percentile="p99") == pytest.approx(0.5)
    assert value(samples, "elt_tpot_limit_seconds", percentile="p50") == pytest.approx(0.025)
    assert value(samples, "elt_min_output_tokens_per_second") == 800
    assert value(samples, "elt_min_goodput") == 5


def test_no_streaming_series_for_a_plain_test() -> None:
    plain = {k: v for k, v in FULL_STATUS.items() if k not in ("progress", "results")}
    exporter = LoadTestExporter()
    exporter.update("ns", "plain", plain, spec={"thresholds": {"minTPS": 1}})
    names = {name for name, _ in scrape(exporter)}
    assert not any("ttft" in n or "tpot" in n or "output_tokens" in n for n in names)


def test_the_dashboard_shows_the_stream() -> None:
    from test_dashboard import dashboard, metric_identifiers, queries

    used = set().union(*(metric_identifiers(q) for q in queries(dashboard())))
    for name in (
        "elt_current_ttft_seconds",
        "elt_current_tpot_seconds",
        "elt_current_output_tokens_per_second",
        "elt_ttft_limit_seconds",
        "elt_goodput_requests_per_second",
    ):
        assert name in used
