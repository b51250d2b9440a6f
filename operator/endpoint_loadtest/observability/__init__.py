"""Observability: the Prometheus exporter, the CloudWatch scraper and the Grafana dashboard.

- `exporter`: per-test figures served at /metrics (prometheus-client), fed from
  status-shaped dicts; a scrape serves held values and calls nothing else. What is
  exported is listed in `exported_metrics`; `status_samples` flattens a status.
- `cloudwatch`: batched GetMetricData for the endpoint over the test window, with the
  end-of-test wait for CloudWatch's delayed last period. Its parts: `cloudwatch_periods`
  (times, the wait), `cloudwatch_queries`, `cloudwatch_api` (client, errors) and
  `cloudwatch_figures` (parsing).
- `grafana-dashboard.json`: the dashboard (package data; see `dashboard_path()`).
"""

from __future__ import annotations

from pathlib import Path


def dashboard_path() -> Path:
    """The Grafana dashboard JSON shipped with the package."""
    return Path(__file__).with_name("grafana-dashboard.json")
