"""`spec.pod`: the Locust pods' image, resources, scheduling and environment.

The shapes follow their Kubernetes counterparts (EnvVar, EnvFromSource, Toleration,
ResourceRequirements) in the subset a test may set; what the environment may not
contain is pod_security.py's to say, applied here at the field level.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator

from endpoint_loadtest.api.base import ApiModel, cel
from endpoint_loadtest.api.patterns import DNS_SUBDOMAIN
from endpoint_loadtest.api.pod_security import (
    ENV_NAME_RULE,
    ENV_PREFIX_RULE,
    check_env_name,
    check_env_prefix,
)

ENV_VAR_NAME = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"


class ObjectKeySelector(ApiModel):
    name: str = Field(max_length=253, description="Name of the object.")
    key: str = Field(max_length=253, description="Key within the object.")
    optional: bool | None = Field(default=None, description="Tolerate a missing key.")


class FieldSelector(ApiModel):
    field_path: str = Field(description="Pod field, for example status.podIP.")
    api_version: str | None = Field(default=None, description="API version of the field path.")


class EnvVarSource(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "[has(self.secretKeyRef), has(self.configMapKeyRef), has(self.fieldRef)]"
                    ".filter(x, x).size() == 1",
                    "exactly one of secretKeyRef, configMapKeyRef or fieldRef must be set",
                )
            ]
        }
    )

    secret_key_ref: ObjectKeySelector | None = Field(default=None, description="A Secret key.")
    config_map_key_ref: ObjectKeySelector | None = Field(
        default=None, description="A ConfigMap key."
    )
    field_ref: FieldSelector | None = Field(default=None, description="A field of the pod.")


class EnvVar(ApiModel):
    """An environment variable of the Locust containers (Kubernetes EnvVar)."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [ENV_NAME_RULE]})

    name: str = Field(
        max_length=253,
        pattern=ENV_VAR_NAME,
        description="Variable name; not PYTHON*, LD_* or ELT_* (see docs/security.md).",
    )
    value: str | None = Field(
        default=None,
        description="Literal value, passed as written: $(VAR) is not expanded.",
    )
    value_from: EnvVarSource | None = Field(default=None, description="Value from a source.")

    _name_allowed = field_validator("name")(check_env_name)


class LocalObjectRef(ApiModel):
    name: str = Field(max_length=253, description="Name of the object.")
    optional: bool | None = Field(default=None, description="Tolerate a missing object.")


class EnvFromSource(ApiModel):
    """All keys of a ConfigMap or Secret as environment variables."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [ENV_PREFIX_RULE]})

    prefix: str | None = Field(
        default=None,
        max_length=253,
        description="Prefix added to every name; not PYTHON*, LD_* or ELT_*.",
    )
    config_map_ref: LocalObjectRef | None = Field(default=None, description="A ConfigMap.")
    secret_ref: LocalObjectRef | None = Field(default=None, description="A Secret.")

    _prefix_allowed = field_validator("prefix")(check_env_prefix)


class Toleration(ApiModel):
    key: str | None = Field(default=None, description="Taint key.")
    operator: Literal["Exists", "Equal"] | None = Field(default=None, description="Operator.")
    value: str | None = Field(default=None, description="Taint value.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="Taint effect."
    )
    toleration_seconds: int | None = Field(default=None, description="For NoExecute taints.")


Quantity = Annotated[
    int | str,
    Field(json_schema_extra={"x-kubernetes-int-or-string": True}),
]


class Resources(ApiModel):
    """Compute resources of each Locust container."""

    requests: dict[str, Quantity] | None = Field(default=None, description="Requests.")
    limits: dict[str, Quantity] | None = Field(default=None, description="Limits.")


class PodSettings(ApiModel):
    """Settings of the Locust master and worker pods."""

    image: str | None = Field(
        default=None,
        max_length=512,
        description="Load-generator image (default: the operator's configured image).",
    )
    resources: Resources | None = Field(
        default=None, description="Resources of each worker (and the master)."
    )
    service_account_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=DNS_SUBDOMAIN,
        description="ServiceAccount of the Locust pods: its IAM role (IRSA) calls the endpoint.",
    )
    node_selector: dict[str, str] | None = Field(default=None, description="Node selector.")
    tolerations: list[Toleration] | None = Field(
        default=None, max_length=50, description="Tolerations."
    )
    env: list[EnvVar] | None = Field(
        default=None, max_length=100, description="Extra environment variables."
    )
    env_from: list[EnvFromSource] | None = Field(
        default=None, max_length=50, description="Environment from ConfigMaps and Secrets."
    )
