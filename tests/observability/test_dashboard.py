"""The Grafana dashboard queries only what the exporter exports, selectable by test."""

from __future__ import annotations

import json
import re

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from test_exporter import (
    FULL_SPEC,
    FULL_STATUS,
    LIVE_SNAPSHOT,
    LIVE_STATUS,
    SEARCH_STATUS,
    STREAMED_SEARCH_STATUS,
    STREAMED_SPEC,
    STREAMED_STATUS,
    registry_with,
)

from endpoint_loadtest.observability import dashboard_path
from endpoint_loadtest.observability.exporter import LoadTestExporter, metric_names

PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "by", "without", "rate", "irate", "increase",
    "label_values", "last_over_time", "on", "ignoring", "and", "or", "unless", "bool",
}  # fmt: skip


def dashboard() -> dict:
    return json.loads(dashboard_path().read_text())


def queries(board: dict) -> list[str]:
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    return exprs


def metric_identifiers(expr: str) -> set[str]:
    """Identifiers of a PromQL expression outside label matchers, strings and ranges."""
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", bare)
    bare = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    bare = re.sub(r"label_values\(([^,]+),\s*\w+\)", r"\1", bare)  # (metric, label name)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare))
    return {n for n in names if n not in PROMQL_WORDS}


def exported_names() -> set[str]:
    """The sample names a real scrape of a fully populated test carries."""
    exporter = LoadTestExporter()
    exporter.update("ns", "t", FULL_STATUS, spec=FULL_SPEC)
    exporter.update("ns", "llm", STREAMED_STATUS, spec=STREAMED_SPEC)
    exporter.update("ns", "running", LIVE_STATUS, snapshot=LIVE_SNAPSHOT, spec=FULL_SPEC)
    exporter.update("ns", "search", SEARCH_STATUS, spec=FULL_SPEC)
    exporter.update("ns", "llm-search", STREAMED_SEARCH_STATUS, spec=STREAMED_SPEC)
    text = generate_latest(registry_with(exporter)).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_every_query_uses_exported_metric_names():
    exported = exported_names()
    assert exported <= metric_names()
    used = set()
    for expr in queries(dashboard()):
        names = metric_identifiers(expr)
        assert names, expr
        assert names <= exported, f"{expr}: {sorted(names - exported)} not exported"
        used |= names
    # the dashboard shows the essentials of both views
    for name in (
        "elt_current_requests_per_second",
        "elt_target_tps",
        "elt_latency_limit_seconds",
        "elt_failures_total",
        "elt_endpoint_model_latency_seconds",
        "elt_endpoint_overhead_latency_seconds",
        "elt_endpoint_cpu_utilization_ratio",
        "elt_endpoint_memory_utilization_ratio",
        "elt_worker_cpu_max_ratio",
        "elt_capacity_max_tps",
        "elt_capacity_step_achieved_tps",
        "elt_capacity_step_offered_tps",
    ):
        assert name in used


def test_panels_are_selectable_by_namespace_and_test():
    board = dashboard()
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"datasource", "namespace", "test"} <= variables
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            assert 'namespace=~"$namespace"' in target["expr"], target["expr"]
            assert 'name=~"$test"' in target["expr"], target["expr"]


def test_the_identifier_parser_sees_names():
    assert metric_identifiers(
        'sum by (name, error_type) (rate(elt_failures_total{a="b"}[1m]))'
    ) == {"elt_failures_total"}
