"""Fixtures of the chart tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from chart_helpers import HELM, Helm


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    if not HELM.exists():
        pytest.fail(f"{HELM} is missing: run `make cluster-tools`")
    return Helm(tmp_path_factory.mktemp("helm-home"))


@pytest.fixture
def cluster_helm(helm: Helm, kube_cluster: object) -> Helm:
    return Helm(Path(helm.env["HELM_CACHE_HOME"]).parent, kube_cluster.kubeconfig)  # type: ignore[attr-defined]
