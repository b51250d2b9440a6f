"""Operator settings, from flags or environment variables (the chart sets the latter)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from endpoint_loadtest.api.models import EndpointLoadTestSpec, Resources
from endpoint_loadtest.engine.plan import planned_seconds
from endpoint_loadtest.k8s.env_values import json_object_env
from endpoint_loadtest.k8s.manifests import DEFAULT_IMAGE
from endpoint_loadtest.k8s.pod_policy import PodPolicy
from endpoint_loadtest.k8s.security_settings import SecuritySettings


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {value!r}") from None


@dataclass
class Settings:
    namespaces: list[str] = field(default_factory=list)  # empty: all namespaces
    locust_image: str = DEFAULT_IMAGE
    # Defaults for the Locust pods when the test does not set them.
    locust_resources: dict[str, Any] = field(default_factory=dict)
    locust_service_account: str | None = None
    start_timeout_seconds: float = 180.0
    max_users: int = 0  # 0: no cap
    max_workers: int = 0
    max_duration_seconds: int = 0
    poll_seconds: float = 2.0
    # host:port of /metrics; empty: not served (a laptop run needs no exporter).
    metrics_address: str = ""
    # The master, its results and the network (see security_settings.py).
    security: SecuritySettings = field(default_factory=SecuritySettings)
    # What a test may ask of its pods beyond the defaults (pod_policy.py; "*": anything).
    pod_policy: PodPolicy = field(default_factory=PodPolicy)

    @classmethod
    def from_environment(cls) -> Settings:
        namespaces = [n.strip() for n in os.environ.get("ELT_NAMESPACES", "").split(",")]
        return cls(
            namespaces=[n for n in namespaces if n],
            locust_image=os.environ.get("ELT_LOCUST_IMAGE") or DEFAULT_IMAGE,
            locust_resources=json_object_env("ELT_LOCUST_RESOURCES"),
            locust_service_account=os.environ.get("ELT_LOCUST_SERVICE_ACCOUNT") or None,
            start_timeout_seconds=_int_env("ELT_START_TIMEOUT_SECONDS", 180),
            max_users=_int_env("ELT_MAX_USERS", 0),
            max_workers=_int_env("ELT_MAX_WORKERS", 0),
            max_duration_seconds=_int_env("ELT_MAX_DURATION_SECONDS", 0),
            metrics_address=os.environ.get("ELT_METRICS_ADDRESS", ""),
            security=SecuritySettings.from_environment(),
            pod_policy=PodPolicy.from_environment(),
        )

    def metrics_endpoint(self) -> tuple[str, int] | None:
        """(host, port) of /metrics, or None; a bad value stops the operator with a message."""
        if not self.metrics_address:
            return None
        host, _, port = self.metrics_address.rpartition(":")
        if not port.isdigit():
            raise SystemExit(f"ELT_METRICS_ADDRESS must be host:port, got {self.metrics_address!r}")
        return host.strip("[]") or "0.0.0.0", int(port)

    def apply_defaults(self, spec: EndpointLoadTestSpec) -> EndpointLoadTestSpec:
        """The spec with the operator's defaults for what the test leaves unset."""
        pod = spec.pod.model_copy()
        if pod.resources is None and self.locust_resources:
            pod = pod.model_copy(
                update={"resources": Resources.model_validate(self.locust_resources)}
            )
        if pod.service_account_name is None and self.locust_service_account:
            pod = pod.model_copy(update={"service_account_name": self.locust_service_account})
        return spec.model_copy(update={"pod": pod})

    def check_caps(self, spec: EndpointLoadTestSpec) -> None:
        """Refuse a test above the cluster's safety caps or outside its pod policy, naming
        the cap or the setting."""
        self.pod_policy.check(spec.pod, self.locust_image, self.locust_service_account)
        load = spec.load
        if self.max_users and load.peak_users > self.max_users:
            raise ValueError(
                f"spec.load asks for {load.peak_users} users; this operator allows at most "
                f"{self.max_users}"
            )
        if self.max_workers and load.workers > self.max_workers:
            raise ValueError(
                f"spec.load.workers is {load.workers}; this operator allows at most "
                f"{self.max_workers}"
            )
        seconds = planned_seconds(spec)
        if self.max_duration_seconds and seconds > self.max_duration_seconds:
            raise ValueError(
                f"the test would run {seconds:.0f}s; this operator allows at most "
                f"{self.max_duration_seconds}s"
            )
