"""Helpers of the chart tests: helm with a private home, rendering, kube version."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "endpoint-loadtest-operator"
IMAGES = ROOT / "images"
HELM = ROOT / "bin" / "helm"
RELEASE_FILE_CRD = CHART / "files" / "crds" / "endpointloadtests.perf.elt.dev.yaml"


def kube_version() -> str:
    """The test cluster's Kubernetes version (hack/versions.env), without the v."""
    for line in (ROOT / "hack" / "versions.env").read_text().splitlines():
        if line.startswith("KUBE_VERSION="):
            return line.split("=", 1)[1].strip().lstrip("v")
    raise AssertionError("KUBE_VERSION missing from hack/versions.env")


class Helm:
    """bin/helm with its cache, config and data in a private directory."""

    def __init__(self, home: Path, kubeconfig: Path | None = None) -> None:
        self.env = {
            **os.environ,
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
        if kubeconfig is not None:
            self.env["KUBECONFIG"] = str(kubeconfig)

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [str(HELM), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and out.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
        return out

    def template(self, *values: str, namespace: str = "elt-system") -> str:
        return self(
            "template", "elt", str(CHART), "-n", namespace, "--kube-version", kube_version(),
            *values,
        ).stdout  # fmt: skip

    def objects(self, *values: str, namespace: str = "elt-system") -> list[dict[str, Any]]:
        return [d for d in yaml.safe_load_all(self.template(*values, namespace=namespace)) if d]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict]:
    return [
        o for o in objects
        if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]  # fmt: skip


def set_values(values: dict[str, str]) -> list[str]:
    args: list[str] = []
    for key, value in values.items():
        args += ["--set", f"{key}={value}"]
    return args


NAMESPACED = ["--set", "rbac.scope=namespaced"]
