"""The chart ships the operator's Grafana dashboard and points /metrics at its port."""

from __future__ import annotations

from chart_helpers import CHART, Helm, find

from endpoint_loadtest.observability import dashboard_path


def test_the_chart_ships_the_dashboard_of_the_package() -> None:
    shipped = CHART / "files" / "dashboards" / "endpoint-loadtest.json"
    assert shipped.read_text() == dashboard_path().read_text(), "copy the dashboard JSON"


def test_the_operator_serves_metrics_on_the_metrics_port(helm: Helm) -> None:
    (deployment,) = find(helm.objects("--set", "metrics.port=9123"), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ELT_METRICS_ADDRESS"] == "$(POD_IP):9123"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == 9123
