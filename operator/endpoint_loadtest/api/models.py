"""The EndpointLoadTest API as pydantic models: the single source of the CRD.

Field names are snake_case in Python and camelCase on the wire (Kubernetes style).
Everything the API server can check is expressed in the models (types, bounds,
patterns, enums, CEL rules in ``json_schema_extra``), so that `elt validate` and
`kubectl apply` reject the same documents with the same field names.

The models live in one module per part of the resource; this module gathers them
under the one name the rest of the operator imports:

- document_models.py: the resource's group, version and names; a whole document
- spec_models.py: the spec, and the rules spanning several of its parts
- target_models.py, payload_models.py, load_models.py, threshold_models.py,
  cloudwatch_models.py, pod_models.py, search_models.py: the spec's parts
- status_models.py and results_models.py: the status and what was measured
"""

from __future__ import annotations

from endpoint_loadtest.api.base import ApiModel, cel
from endpoint_loadtest.api.cloudwatch_models import (
    HIGH_RESOLUTION_PERIODS,
    PERIOD_RULE,
    CloudWatch,
)
from endpoint_loadtest.api.document_models import (
    API_VERSION,
    CATEGORIES,
    GROUP,
    KIND,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
    EndpointLoadTest,
    ObjectMeta,
)
from endpoint_loadtest.api.durations import Duration, parse_duration
from endpoint_loadtest.api.headers import (
    HTTP_HEADER_RULES,
    MAX_HEADERS,
    MAX_HEADERS_FROM,
    HeaderFromSecret,
    check_headers,
)
from endpoint_loadtest.api.load_models import (
    DEFAULT_MAX_IN_FLIGHT,
    IN_FLIGHT_BELOW_WORKERS,
    LOAD_SHAPE,
    WORKERS_ABOVE_USERS,
    Load,
    Stage,
)
from endpoint_loadtest.api.patterns import DNS_SUBDOMAIN
from endpoint_loadtest.api.payload_models import KeyRef, Payload, PayloadBody
from endpoint_loadtest.api.pod_models import (
    ENV_VAR_NAME,
    EnvFromSource,
    EnvVar,
    EnvVarSource,
    FieldSelector,
    LocalObjectRef,
    ObjectKeySelector,
    PodSettings,
    Quantity,
    Resources,
    Toleration,
)
from endpoint_loadtest.api.pod_security import (
    ENV_NAME_RULE,
    ENV_PREFIX_RULE,
    check_env_name,
    check_env_prefix,
)
from endpoint_loadtest.api.results_models import (
    CloudWatchLatency,
    CloudWatchResults,
    LatencySummary,
    Results,
    StreamingResults,
)
from endpoint_loadtest.api.search_models import Capacity, Search
from endpoint_loadtest.api.spec_models import (
    CLOUDWATCH_NEEDS_SAGEMAKER,
    SEARCH_OR_LOAD,
    EndpointLoadTestSpec,
)
from endpoint_loadtest.api.status_models import (
    Check,
    Condition,
    EndpointLoadTestStatus,
    Phase,
    Progress,
    RunRecord,
    RunResult,
    StreamingProgress,
    Verdict,
    VerdictResult,
    WorkerCounts,
)
from endpoint_loadtest.api.target_models import (
    AWS_REGION,
    STREAM_FORMATS,
    HttpTarget,
    SageMakerTarget,
    StreamSettings,
    Target,
)
from endpoint_loadtest.api.threshold_models import (
    DEFAULT_MAX_ERROR_RATE,
    PERCENTILES,
    CloudWatchLatencyLimits,
    CloudWatchThresholds,
    LatencyLimits,
    StreamingSlo,
    StreamingThresholds,
    Thresholds,
)

__all__ = [
    "API_VERSION",
    "AWS_REGION",
    "CATEGORIES",
    "CLOUDWATCH_NEEDS_SAGEMAKER",
    "DEFAULT_MAX_ERROR_RATE",
    "DEFAULT_MAX_IN_FLIGHT",
    "DNS_SUBDOMAIN",
    "ENV_NAME_RULE",
    "ENV_PREFIX_RULE",
    "ENV_VAR_NAME",
    "GROUP",
    "HIGH_RESOLUTION_PERIODS",
    "HTTP_HEADER_RULES",
    "IN_FLIGHT_BELOW_WORKERS",
    "KIND",
    "LOAD_SHAPE",
    "MAX_HEADERS",
    "MAX_HEADERS_FROM",
    "PERCENTILES",
    "PERIOD_RULE",
    "PLURAL",
    "SEARCH_OR_LOAD",
    "SHORT_NAMES",
    "SINGULAR",
    "STREAM_FORMATS",
    "VERSION",
    "WORKERS_ABOVE_USERS",
    "ApiModel",
    "Capacity",
    "Check",
    "CloudWatch",
    "CloudWatchLatency",
    "CloudWatchLatencyLimits",
    "CloudWatchResults",
    "CloudWatchThresholds",
    "Condition",
    "Duration",
    "EndpointLoadTest",
    "EndpointLoadTestSpec",
    "EndpointLoadTestStatus",
    "EnvFromSource",
    "EnvVar",
    "EnvVarSource",
    "FieldSelector",
    "HeaderFromSecret",
    "HttpTarget",
    "KeyRef",
    "LatencyLimits",
    "LatencySummary",
    "Load",
    "LocalObjectRef",
    "ObjectKeySelector",
    "ObjectMeta",
    "Payload",
    "PayloadBody",
    "Phase",
    "PodSettings",
    "Progress",
    "Quantity",
    "Resources",
    "Results",
    "RunRecord",
    "RunResult",
    "SageMakerTarget",
    "Search",
    "Stage",
    "StreamSettings",
    "StreamingProgress",
    "StreamingResults",
    "StreamingSlo",
    "StreamingThresholds",
    "Target",
    "Thresholds",
    "Toleration",
    "Verdict",
    "VerdictResult",
    "WorkerCounts",
    "cel",
    "check_env_name",
    "check_env_prefix",
    "check_headers",
    "parse_duration",
]
