"""The EndpointLoadTest resource: its API group, version and names, and a whole document.

`EndpointLoadTest` is what `kubectl apply` and `elt run` read: apiVersion, kind,
metadata, spec and status. The names are those the CRD and the operator register.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from endpoint_loadtest.api.base import ApiModel
from endpoint_loadtest.api.patterns import DNS_SUBDOMAIN
from endpoint_loadtest.api.spec_models import EndpointLoadTestSpec
from endpoint_loadtest.api.status_models import EndpointLoadTestStatus

GROUP = "perf.elt.dev"
VERSION = "v1alpha1"
KIND = "EndpointLoadTest"
PLURAL = "endpointloadtests"
SINGULAR = "endpointloadtest"
SHORT_NAMES = ["elt"]
CATEGORIES = ["loadtests", "perf"]
API_VERSION = f"{GROUP}/{VERSION}"


class ObjectMeta(BaseModel):
    """The part of metadata the local runtime uses; the rest is kept as is."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(default="loadtest", max_length=253, pattern=DNS_SUBDOMAIN)
    namespace: str | None = None


class EndpointLoadTest(ApiModel):
    """A whole document, as `kubectl apply` and `elt run` read it."""

    api_version: Literal["perf.elt.dev/v1alpha1"] = Field(description="perf.elt.dev/v1alpha1")
    kind: Literal["EndpointLoadTest"] = Field(description="EndpointLoadTest")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: EndpointLoadTestSpec
    status: EndpointLoadTestStatus | None = None
