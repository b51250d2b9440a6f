"""`elt report` without a cluster to reach: a clear message, exit code 3, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from simfixtures import _clean_env, free_port


def elt_report(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "endpoint_loadtest.cli", "report", *args],
        capture_output=True, text=True, env=_clean_env(env), timeout=60,
    )  # fmt: skip


def test_no_kubeconfig_is_no_cluster_access(tmp_path: Path) -> None:
    proc = elt_report({"KUBECONFIG": str(tmp_path / "absent"), "HOME": str(tmp_path)}, "t")
    assert proc.returncode == 3, proc.stderr
    assert "elt report: no cluster access: the kubeconfig could not be loaded" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_api_server_out_of_reach_is_named(tmp_path: Path) -> None:
    server = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: k, cluster: {{server: '{server}'}}}}]\n"
        "users: [{name: u, user: {token: x}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u, namespace: team-a}}]\n"
    )
    proc = elt_report({"KUBECONFIG": str(kubeconfig)}, "t", "-o", str(tmp_path / "r.html"))
    assert proc.returncode == 3, proc.stderr
    assert f"no cluster access: cannot reach the API server at {server}" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "r.html").exists()
