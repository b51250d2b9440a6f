"""The operator's settings for the master, its results and the network (chart values).

- ELT_RUN_TOKEN_KEY_FILE: the key the run tokens are derived from (k8s/run_secret.py);
  the chart mounts a Secret of the operator's namespace there. Without it the operator
  makes a key for its own lifetime: a restarted operator then cannot read (and so ends)
  the runs its predecessor started.
- ELT_OPERATOR_NAMESPACE_SELECTOR / ELT_OPERATOR_POD_SELECTOR: JSON label maps of the
  operator's pods, the only peers each run's NetworkPolicy lets reach the master's 8089.
- ELT_CLOUDWATCH_ALLOWED_ENDPOINTS: the endpoints whose CloudWatch metrics the operator
  reads with its own identity, as comma-separated glob patterns of `name` or
  `region/name`. Empty (the default): none; a test asking for more ends in Error.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from endpoint_loadtest.api.models import EndpointLoadTestSpec
from endpoint_loadtest.k8s.env_values import json_object_env
from endpoint_loadtest.k8s.manifests import OperatorPeers
from endpoint_loadtest.k8s.run_secret import MIN_KEY_BYTES

log = logging.getLogger("elt.operator")
CLOUDWATCH_SETTING = "cloudwatch.allowedEndpoints (ELT_CLOUDWATCH_ALLOWED_ENDPOINTS)"


def _labels_env(name: str) -> dict[str, str]:
    parsed = json_object_env(name)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()):
        raise SystemExit(f"{name} must be a JSON object of string labels, got {parsed!r}")
    return parsed


def _key_file(name: str) -> bytes | None:
    path = os.environ.get(name)
    if not path:
        return None
    try:
        key = Path(path).read_bytes().strip()
    except OSError as error:
        raise SystemExit(f"{name}: cannot read {path}: {error.strerror}") from None
    if len(key) < MIN_KEY_BYTES:
        raise SystemExit(f"{name}: {path} holds {len(key)} bytes; at least {MIN_KEY_BYTES}")
    return key


def _patterns(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


@dataclass
class SecuritySettings:
    run_token_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    run_token_key_configured: bool = False
    operator_peers: OperatorPeers = field(default_factory=OperatorPeers)
    cloudwatch_allowed_endpoints: list[str] = field(default_factory=list)

    @classmethod
    def from_environment(cls) -> SecuritySettings:
        key = _key_file("ELT_RUN_TOKEN_KEY_FILE")
        found = cls(
            operator_peers=OperatorPeers(
                namespace_selector=_labels_env("ELT_OPERATOR_NAMESPACE_SELECTOR"),
                pod_selector=_labels_env("ELT_OPERATOR_POD_SELECTOR"),
            ),
            cloudwatch_allowed_endpoints=_patterns(
                os.environ.get("ELT_CLOUDWATCH_ALLOWED_ENDPOINTS", "")
            ),
        )
        if key is not None:
            found.run_token_key, found.run_token_key_configured = key, True
        return found

    def warn_if_ephemeral(self) -> None:
        if not self.run_token_key_configured:
            log.warning(
                "ELT_RUN_TOKEN_KEY_FILE is not set: run tokens come from a key made for this "
                "process, so runs still going when it restarts end in Error"
            )

    def check_cloudwatch(self, spec: EndpointLoadTestSpec) -> None:
        """Refuse a test whose CloudWatch endpoint this operator may not read, naming both.

        The operator reads CloudWatch with its own identity: without this, a test could
        make it read (and report) the metrics of any endpoint its role can see."""
        target = spec.target.sagemaker
        if target is None or not spec.cloudwatch.enabled:
            return
        name, region = target.endpoint_name, target.region
        for pattern in self.cloudwatch_allowed_endpoints:
            subject = f"{region}/{name}" if "/" in pattern else name
            if fnmatch.fnmatchcase(subject, pattern):
                return
        allowed = ", ".join(self.cloudwatch_allowed_endpoints) or "none"
        raise ValueError(
            f"spec.cloudwatch.enabled: this operator may not read the CloudWatch metrics of "
            f"endpoint {region}/{name}; the operator setting {CLOUDWATCH_SETTING} allows "
            f"{allowed}"
        )
