"""The EndpointLoadTest API as pydantic models: the single source of the CRD.

Field names are snake_case in Python and camelCase on the wire (Kubernetes style).
Everything the API server can check is expressed here (types, bounds, patterns,
enums, CEL rules in ``json_schema_extra``), so that `elt validate` and
`kubectl apply` reject the same documents with the same field names.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from endpoint_loadtest.api.base import ApiModel, cel
from endpoint_loadtest.api.durations import Duration, parse_duration
from endpoint_loadtest.api.headers import (
    HTTP_HEADER_RULES,
    MAX_HEADERS,
    MAX_HEADERS_FROM,
    HeaderFromSecret,
    check_headers,
)
from endpoint_loadtest.api.pod_security import (
    ENV_NAME_RULE,
    ENV_PREFIX_RULE,
    check_env_name,
    check_env_prefix,
)
from endpoint_loadtest.api.search_models import Capacity, Search

GROUP = "perf.elt.dev"
VERSION = "v1alpha1"
KIND = "EndpointLoadTest"
PLURAL = "endpointloadtests"
SINGULAR = "endpointloadtest"
SHORT_NAMES = ["elt"]
CATEGORIES = ["loadtests", "perf"]
API_VERSION = f"{GROUP}/{VERSION}"

PERCENTILES = ("p50", "p90", "p95", "p99")

# A DNS-1123 label (ConfigMap, Secret and ServiceAccount names are subdomains, which allow dots).
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ENV_VAR_NAME = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
# The shape of a real AWS region: us-east-1, eu-central-2, us-gov-west-1, us-isob-east-1.
AWS_REGION = (
    r"^[a-z]{2}(-gov|-iso[a-z]?)?-"
    r"(north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9][0-9]?$"
)
DEFAULT_MAX_ERROR_RATE = 0.01


# --------------------------------------------------------------------------- target


STREAM_FORMATS = ("tgi", "jsonlines", "openai", "auto")


class StreamSettings(ApiModel):
    """Streamed responses (LLM token streaming); its presence turns streaming on."""

    format: Literal["tgi", "jsonlines", "openai", "auto"] = Field(
        default="auto",
        description="How the stream's lines are written: `tgi` (Hugging Face TGI server-sent "
        "events), `jsonlines` (LMI/DJL rolling batch, one JSON object per line), `openai` "
        "(OpenAI-compatible `data:` chunks ending with `data: [DONE]`), or `auto` (detected "
        "from the first event).",
    )
    include_usage: bool = Field(
        default=True,
        description="openai: ask for the server's token counts "
        "(stream_options.include_usage), used for outputTokens when sent.",
    )


class SageMakerTarget(ApiModel):
    """A SageMaker real-time endpoint, called with sagemaker-runtime InvokeEndpoint."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.stream) || !has(self.targetModel)",
                    "InvokeEndpointWithResponseStream has no TargetModel "
                    "(multi-model endpoints do not stream)",
                    ".targetModel",
                )
            ]
        }
    )

    endpoint_name: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
        description="Name of the SageMaker endpoint (EndpointName).",
    )
    region: str = Field(
        max_length=32,
        pattern=AWS_REGION,
        description="AWS region of the endpoint, for example us-east-1 or us-gov-west-1.",
    )
    variant_name: str | None = Field(
        default=None,
        max_length=63,
        pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
        description="Production variant to call, sent as TargetVariant. Also selects the "
        "VariantName dimension of the CloudWatch metrics (default AllTraffic).",
    )
    content_type: str = Field(
        default="application/json",
        max_length=1024,
        description="MIME type of the request body (ContentType).",
    )
    accept: str | None = Field(
        default=None, max_length=1024, description="Desired MIME type of the response (Accept)."
    )
    custom_attributes: str | None = Field(
        default=None,
        max_length=1024,
        description="Opaque value passed to the model container (CustomAttributes).",
    )
    target_model: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Model to invoke on a multi-model endpoint (TargetModel).",
    )
    inference_component_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        description="Inference component to invoke (InferenceComponentName).",
    )
    stream: StreamSettings | None = Field(
        default=None,
        description="Call InvokeEndpointWithResponseStream and measure the token stream "
        "(time to first token, time per output token, tokens per second).",
    )

    @model_validator(mode="after")
    def _stream_without_target_model(self) -> SageMakerTarget:
        if self.stream is not None and self.target_model is not None:
            raise ValueError(
                "target.sagemaker.targetModel: InvokeEndpointWithResponseStream has no "
                "TargetModel (multi-model endpoints do not stream)"
            )
        return self


class HttpTarget(ApiModel):
    """Any HTTP inference endpoint (KServe, Triton, a model server behind a load balancer)."""

    url: str = Field(
        pattern=r"^https?://[^\s]+$",
        max_length=2048,
        description="Full URL requests are sent to, for example http://model.ns.svc:8080/predict.",
    )
    method: Literal["POST", "PUT", "GET"] = Field(default="POST", description="HTTP method.")
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": HTTP_HEADER_RULES})

    headers: dict[str, str] | None = Field(
        default=None,
        max_length=MAX_HEADERS,
        description="Extra request headers, stored in the clear (plan ConfigMap, the "
        "resource itself): never credentials. Authorization, Cookie and API keys come "
        "from a Secret with headersFrom.",
    )
    headers_from: list[HeaderFromSecret] | None = Field(
        default=None,
        max_length=MAX_HEADERS_FROM,
        description="Request headers whose values are Secret keys: the kubelet puts them "
        "into the Locust pods, the operator never reads them.",
    )
    stream: StreamSettings | None = Field(
        default=None,
        description="Read the response as a token stream (OpenAI-compatible servers such as "
        "vLLM or TGI's Messages API) and measure it.",
    )

    @model_validator(mode="after")
    def _headers_safe(self) -> HttpTarget:
        check_headers(self.headers, self.headers_from)
        return self


class Target(ApiModel):
    """What is load tested. Exactly one kind of target."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "[has(self.sagemaker), has(self.http)].filter(x, x).size() == 1",
                    "exactly one of target.sagemaker or target.http must be set",
                )
            ]
        }
    )

    sagemaker: SageMakerTarget | None = Field(
        default=None, description="A SageMaker real-time endpoint."
    )
    http: HttpTarget | None = Field(default=None, description="A plain HTTP endpoint.")

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        if (self.sagemaker is None) == (self.http is None):
            raise ValueError("exactly one of target.sagemaker or target.http must be set")
        return self

    @property
    def stream(self) -> StreamSettings | None:
        """The stream settings of whichever target is set (None: not streamed)."""
        chosen = self.sagemaker if self.sagemaker is not None else self.http
        return chosen.stream if chosen is not None else None

    def describe(self) -> str:
        """A short name for progress output and status."""
        if self.sagemaker is not None:
            return self.sagemaker.endpoint_name
        assert self.http is not None
        return self.http.url


# --------------------------------------------------------------------------- payload


class KeyRef(ApiModel):
    """A key of a ConfigMap in the test's namespace."""

    name: str = Field(max_length=253, pattern=DNS_SUBDOMAIN, description="ConfigMap name.")
    key: str = Field(
        max_length=253, pattern=r"^[-._a-zA-Z0-9]+$", description="Key within the ConfigMap."
    )


class PayloadBody(ApiModel):
    """One request body of a payload mix."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "has(self.body) != has(self.configMapKeyRef)",
                    "exactly one of body or configMapKeyRef must be set",
                )
            ]
        }
    )

    name: str | None = Field(
        default=None,
        max_length=63,
        description="Label of this body in reports (default body-N).",
    )
    body: str | None = Field(
        default=None,
        max_length=65536,
        description="The request body, inline (up to 64 KiB; larger: configMapKeyRef).",
    )
    config_map_key_ref: KeyRef | None = Field(
        default=None, description="The request body, from a ConfigMap key."
    )
    weight: int = Field(
        default=1, ge=1, le=1000, description="Relative frequency with selection: weighted."
    )
    max_tokens: int | None = Field(
        default=None,
        ge=1,
        le=1000000,
        description="Streaming: the most tokens to generate for this prompt, written into the "
        "JSON body as the stream format expects (openai: max_tokens; tgi and jsonlines: "
        "parameters.max_new_tokens).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> PayloadBody:
        if (self.body is None) == (self.config_map_key_ref is None):
            raise ValueError("exactly one of body or configMapKeyRef must be set")
        return self


class Payload(ApiModel):
    """The request body sent with every call."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "[has(self.body), has(self.configMapKeyRef), has(self.bodies)]"
                    ".filter(x, x).size() == 1",
                    "exactly one of payload.body, payload.configMapKeyRef or payload.bodies "
                    "must be set",
                )
            ]
        }
    )

    body: str | None = Field(
        default=None,
        max_length=262144,
        description='The request body, inline, for example {"inputs": "I am happy"}.',
    )
    config_map_key_ref: KeyRef | None = Field(
        default=None, description="The request body, from a ConfigMap key (large payloads)."
    )
    bodies: list[PayloadBody] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Several bodies, sent round-robin or by weight.",
    )
    selection: Literal["roundRobin", "weighted"] = Field(
        default="roundRobin", description="How bodies are chosen from payload.bodies."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Payload:
        sources = [self.body is not None, self.config_map_key_ref is not None, bool(self.bodies)]
        if sum(sources) != 1:
            raise ValueError(
                "exactly one of payload.body, payload.configMapKeyRef or payload.bodies must be set"
            )
        return self

    def all_bodies(self) -> list[PayloadBody]:
        """The payload as a list of bodies, whichever form the user wrote."""
        if self.bodies:
            return list(self.bodies)
        # Constructed, not validated: payload.body may be larger (256 KiB) than one body
        # of a mix (64 KiB), and it was validated as payload.body already.
        return [
            PayloadBody.model_construct(
                name=None, body=self.body, config_map_key_ref=self.config_map_key_ref, weight=1
            )
        ]


# --------------------------------------------------------------------------- load


DEFAULT_MAX_IN_FLIGHT = 1000
LOAD_SHAPE = "set either load.users (or load.targetTPS) and load.duration, or load.stages"
IN_FLIGHT_BELOW_WORKERS = (
    "load.maxInFlight must be at least load.workers: each worker keeps at least one "
    "request in flight, so a smaller cap would not hold"
)
WORKERS_ABOVE_USERS = (
    "load.workers must not exceed the (peak) load.users of the closed model: a worker "
    "without a user sends nothing and its pod sits idle"
)


class Stage(ApiModel):
    """One step of a load profile: hold `users` (closed model) or `targetTPS` (open model)
    for `duration`."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "has(self.users) != has(self.targetTPS)",
                    "set either users or targetTPS in a stage",
                )
            ]
        }
    )

    duration: Duration = Field(description="How long this stage lasts, e.g. 30s or 2m.")
    users: int | None = Field(
        default=None, ge=0, le=100000, description="Concurrent users during this stage."
    )
    target_tps: float | None = Field(
        default=None,
        gt=0,
        le=1000000,
        alias="targetTPS",
        description="Open model: requests started per second during this stage, across all "
        "workers, whatever the response times.",
    )
    spawn_rate: float | None = Field(
        default=None,
        gt=0,
        le=10000,
        description="Users started (or stopped) per second to reach this stage "
        "(default load.spawnRate).",
    )


class Load(ApiModel):
    """How much load, for how long. Either users+duration or stages."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "has(self.stages) ? !has(self.users) && !has(self.targetTPS) "
                    "&& !has(self.duration) "
                    ": (!has(self.users) && !has(self.targetTPS) && !has(self.duration)) "
                    "|| (has(self.users) != has(self.targetTPS) && has(self.duration))",
                    "set either load.users (or load.targetTPS) and load.duration, or load.stages",
                ),
                cel(
                    "!has(self.stages) || self.stages.all(s, has(s.users)) "
                    "|| self.stages.all(s, has(s.targetTPS))",
                    "load.stages must all set users or all set targetTPS",
                ),
                cel(
                    "!has(self.maxInFlight) || has(self.targetTPS) "
                    "|| (has(self.stages) && self.stages.all(s, has(s.targetTPS))) "
                    "|| (!has(self.users) && !has(self.stages))",
                    "load.maxInFlight applies to the open model (targetTPS) only",
                ),
                cel(
                    "!has(self.maxInFlight) || !has(self.workers) "
                    "|| self.maxInFlight >= self.workers",
                    IN_FLIGHT_BELOW_WORKERS,
                    ".maxInFlight",
                ),
                cel(
                    "!has(self.workers) || !has(self.users) || self.workers <= self.users",
                    WORKERS_ABOVE_USERS,
                    ".workers",
                ),
                cel(
                    "!has(self.workers) || !has(self.stages) "
                    "|| self.stages.all(s, has(s.targetTPS)) "
                    "|| self.stages.exists(s, has(s.users) && s.users >= self.workers)",
                    WORKERS_ABOVE_USERS,
                    ".workers",
                ),
            ]
        }
    )

    users: int | None = Field(
        default=None, ge=1, le=100000, description="Concurrent simulated users (closed model)."
    )
    target_tps: float | None = Field(
        default=None,
        gt=0,
        le=1000000,
        alias="targetTPS",
        description="Open model, instead of users: requests started per second across all "
        "workers, at a constant arrival rate whatever the response times. Latency is "
        "measured from each request's intended start (results.latencyMs) and beside it from "
        "the actual send (results.serviceLatencyMs); sends the generator could not make on "
        "time are counted (results.shortfall) and more than 1% makes the verdict "
        "Inconclusive.",
    )
    max_in_flight: int | None = Field(
        default=None,
        ge=1,
        le=100000,
        description="Open model: the most requests in flight at once across all workers "
        f"(default {DEFAULT_MAX_IN_FLIGHT}, split evenly between workers). An intended send "
        "that finds the cap reached is not made and counts as shortfall.",
    )
    spawn_rate: float = Field(
        default=10, gt=0, le=10000, description="Users started per second during ramp-up."
    )
    workers: int = Field(
        default=1, ge=1, le=500, description="Locust worker processes (pods in a cluster)."
    )
    duration: Duration | None = Field(
        default=None,
        description="Length of the measurement window, after ramp-up and warmup (e.g. 60s, 5m).",
    )
    warmup: Duration = Field(
        default="0s",
        description="Time at full load after ramp-up that is excluded from the verdict. "
        "With stages, the first `warmup` of the profile is excluded.",
    )
    stages: list[Stage] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="A load profile: users over time. The whole profile after warmup is measured.",
    )
    request_timeout: Duration = Field(
        default="70s",
        description="Client socket timeout per request (SageMaker allows the model 60 s).",
    )
    client: Literal["fast", "boto3"] = Field(
        default="fast",
        description="SageMaker targets: `fast` signs InvokeEndpoint (SigV4) over Locust's "
        "fast HTTP client, several times cheaper per request; `boto3` calls boto3 "
        "invoke_endpoint like AWS's load-testing practice.",
    )

    @model_validator(mode="after")
    def _one_shape(self) -> Load:
        shape = LOAD_SHAPE
        if not self.shaped:  # a capacity search (spec.search) sets the rates itself
            pass
        elif self.stages:
            if self.users is not None or self.target_tps is not None or self.duration is not None:
                raise ValueError(shape)
            for stage in self.stages:
                if (stage.users is None) == (stage.target_tps is None):
                    raise ValueError("set either users or targetTPS in a stage")
            if len({stage.target_tps is None for stage in self.stages}) > 1:
                raise ValueError("load.stages must all set users or all set targetTPS")
            if self.warmup_seconds >= self.total_stage_seconds:
                raise ValueError("load.warmup must be shorter than the stages together")
        elif (self.users is None) == (self.target_tps is None) or self.duration is None:
            raise ValueError(shape)
        elif self.duration_seconds <= 0:
            raise ValueError("load.duration must be longer than 0s")
        if self.max_in_flight is not None and self.shaped and not self.open_model:
            raise ValueError("load.maxInFlight applies to the open model (targetTPS) only")
        if self.max_in_flight is not None and self.max_in_flight < self.workers:
            raise ValueError(
                f"{IN_FLIGHT_BELOW_WORKERS} (load.maxInFlight {self.max_in_flight} < "
                f"workers {self.workers})"
            )
        if self.shaped and not self.open_model and self.workers > self.peak_users:
            raise ValueError(
                f"{WORKERS_ABOVE_USERS} (load.workers {self.workers} > users {self.peak_users})"
            )
        if self.request_timeout_seconds <= 0:
            raise ValueError("load.requestTimeout must be longer than 0s")
        return self

    @property
    def shaped(self) -> bool:
        """Whether the load sets its own shape (users, targetTPS, duration or stages);
        without one the test is a capacity search and spec.search sets the rates."""
        return any(v is not None for v in (self.users, self.target_tps, self.duration, self.stages))

    @property
    def open_model(self) -> bool:
        """Requests at a target arrival rate (targetTPS) rather than by users."""
        if self.stages:
            return self.stages[0].target_tps is not None
        return self.target_tps is not None

    @property
    def in_flight_cap(self) -> int:
        return self.max_in_flight or DEFAULT_MAX_IN_FLIGHT

    @property
    def duration_seconds(self) -> float:
        return parse_duration(self.duration) if self.duration is not None else 0.0

    @property
    def warmup_seconds(self) -> float:
        return parse_duration(self.warmup)

    @property
    def request_timeout_seconds(self) -> float:
        return parse_duration(self.request_timeout)

    @property
    def total_stage_seconds(self) -> float:
        return sum(parse_duration(s.duration) for s in self.stages or [])

    @property
    def peak_users(self) -> int:
        """Users, or in the open model the in-flight cap (the concurrency either way)."""
        if self.open_model or not self.shaped:  # a capacity search is open-model too
            return self.in_flight_cap
        if self.stages:
            return max(s.users or 0 for s in self.stages)
        assert self.users is not None
        return self.users


# --------------------------------------------------------------------------- thresholds


class LatencyLimits(ApiModel):
    """Upper bounds on response-time percentiles, in milliseconds."""

    p50: float | None = Field(default=None, gt=0, description="Median latency limit (ms).")
    p90: float | None = Field(default=None, gt=0, description="90th percentile limit (ms).")
    p95: float | None = Field(default=None, gt=0, description="95th percentile limit (ms).")
    p99: float | None = Field(default=None, gt=0, description="99th percentile limit (ms).")


class CloudWatchLatencyLimits(ApiModel):
    """Upper bounds on a CloudWatch latency metric's percentiles, in milliseconds."""

    p50: float | None = Field(default=None, gt=0, description="Median limit (ms).")
    p90: float | None = Field(default=None, gt=0, description="90th percentile limit (ms).")
    p99: float | None = Field(default=None, gt=0, description="99th percentile limit (ms).")


class CloudWatchThresholds(ApiModel):
    """Limits on what the endpoint itself reports to CloudWatch over the window.

    Judged only when the figures could be read; when CloudWatch is unavailable the
    verdict rests on the client-side checks and the CloudWatchAvailable condition says why.
    """

    model_latency_ms: CloudWatchLatencyLimits | None = Field(
        default=None, description="ModelLatency percentile limits (time in the container, ms)."
    )
    overhead_latency_ms: CloudWatchLatencyLimits | None = Field(
        default=None, description="OverheadLatency percentile limits (SageMaker's overhead, ms)."
    )
    max_5xx_rate: float | None = Field(
        default=None,
        alias="max5xxRate",
        ge=0,
        le=1,
        description="Highest acceptable Invocation5XXErrors / Invocations (0.01 = 1%).",
    )
    max_cpu_utilization_percent: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description="Ceiling on the hottest instance's CPU, in percent of the whole instance "
        "(CloudWatch's CPUUtilization / cloudwatch.instanceVcpus). AWS's load-testing "
        "practice aims at 60-70%.",
    )


class StreamingSlo(ApiModel):
    """Per-request service-level objectives: a request meeting all of them counts in goodput."""

    ttft_ms: float | None = Field(default=None, gt=0, description="Time to first token (ms).")
    tpot_ms: float | None = Field(default=None, gt=0, description="Time per output token (ms).")
    latency_ms: float | None = Field(
        default=None, gt=0, description="Time from the send to the stream's end (ms)."
    )


class StreamingThresholds(ApiModel):
    """Limits on the token stream's figures (streamed targets only)."""

    ttft_ms: LatencyLimits | None = Field(
        default=None, description="Time to first token percentile limits (ms)."
    )
    tpot_ms: LatencyLimits | None = Field(
        default=None, description="Time per output token percentile limits (ms)."
    )
    min_output_tokens_per_second: float | None = Field(
        default=None,
        ge=0,
        description="Lowest acceptable output tokens per second of the window, all requests "
        "together.",
    )
    min_goodput: float | None = Field(
        default=None,
        ge=0,
        description="Lowest acceptable goodput: successful requests per second that met every "
        "objective of thresholds.streaming.slo (as DistServe and vLLM define it).",
    )
    slo: StreamingSlo | None = Field(
        default=None,
        description="Per-request objectives that define goodput (needed by minGoodput).",
    )

    @model_validator(mode="after")
    def _goodput_needs_slo(self) -> StreamingThresholds:
        slo = self.slo
        if self.min_goodput is not None and (
            slo is None or (slo.ttft_ms, slo.tpot_ms, slo.latency_ms) == (None, None, None)
        ):
            raise ValueError(
                "thresholds.streaming.minGoodput needs thresholds.streaming.slo "
                "(ttftMs, tpotMs or latencyMs)"
            )
        return self


class Thresholds(ApiModel):
    """What the endpoint must achieve in the measurement window to pass."""

    min_tps: float | None = Field(
        default=None,
        alias="minTPS",
        ge=0,
        description="Lowest acceptable successful requests per second (results.successTps): "
        "asking for 1000 TPS means 1000 answers a second, failures do not count.",
    )
    max_error_rate: float = Field(
        default=DEFAULT_MAX_ERROR_RATE,
        ge=0,
        le=1,
        description="Highest acceptable fraction of failed requests (0.01 = 1%, the "
        "default; set 1 to accept any error rate).",
    )
    latency_ms: LatencyLimits | None = Field(
        default=None, description="Latency percentile limits in milliseconds."
    )
    min_requests: int = Field(
        default=100,
        ge=0,
        description="Fewer requests than this in the window makes the verdict Inconclusive.",
    )
    cloudwatch: CloudWatchThresholds | None = Field(
        default=None,
        description="Limits on the endpoint's CloudWatch metrics (needs cloudwatch.enabled).",
    )
    streaming: StreamingThresholds | None = Field(
        default=None,
        description="Limits on the token stream (needs target.sagemaker.stream or "
        "target.http.stream).",
    )


# Periods GetMetricData accepts: 1, 5, 10 and 30 (high-resolution data only) or
# multiples of 60. Anything else CloudWatch refuses, and every scrape would fail.
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)
PERIOD_RULE = (
    "cloudwatch.period must be a multiple of 60 (SageMaker publishes one-minute data; "
    "1, 5, 10 and 30 only for high-resolution metrics): CloudWatch refuses other periods"
)


class CloudWatch(ApiModel):
    """Endpoint-side metrics from CloudWatch, beside the client-side view."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.period) || self.period in "
                    f"{list(HIGH_RESOLUTION_PERIODS)} || self.period % 60 == 0",
                    PERIOD_RULE,
                    ".period",
                )
            ]
        }
    )

    enabled: bool = Field(default=False, description="Scrape the endpoint's CloudWatch metrics.")
    period: int = Field(
        default=60,
        ge=1,
        le=3600,
        description="Metric period in seconds: a multiple of 60, as SageMaker publishes "
        "one-minute data (1, 5, 10 or 30 only where the metrics are high-resolution, as "
        "the simulator's can be).",
    )
    instance_vcpus: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="vCPUs of one endpoint instance (48 on ml.m5.12xlarge). CloudWatch sums "
        "CPUUtilization over cores; with this the figure is also given per instance "
        "(0-100%), an instance above 90% is flagged saturated, and "
        "thresholds.cloudwatch.maxCpuUtilizationPercent can be judged.",
    )
    last_period_timeout: Duration = Field(
        default="3m",
        description="How long after the window's last period ends to wait for CloudWatch to "
        "publish it (it arrives with a delay) before judging with what is there.",
    )

    @field_validator("period")
    @classmethod
    def _period_cloudwatch_accepts(cls, period: int) -> int:
        if period not in HIGH_RESOLUTION_PERIODS and period % 60:
            raise ValueError(f"{PERIOD_RULE} (got {period})")
        return period

    @property
    def last_period_timeout_seconds(self) -> float:
        return parse_duration(self.last_period_timeout)


# --------------------------------------------------------------------------- pods


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


# --------------------------------------------------------------------------- spec


SEARCH_OR_LOAD = (
    "spec.search is mutually exclusive with load.users, load.targetTPS, load.duration and "
    "load.stages: the search sets the rates and each step's window"
)
CLOUDWATCH_NEEDS_SAGEMAKER = (
    "cloudwatch.enabled needs target.sagemaker: only SageMaker endpoints publish the "
    "AWS/SageMaker metrics it reads"
)


class EndpointLoadTestSpec(ApiModel):
    """A load test of one inference endpoint, judged against thresholds."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.thresholds) || !has(self.thresholds.cloudwatch) || "
                    "(has(self.cloudwatch) && has(self.cloudwatch.enabled) && "
                    "self.cloudwatch.enabled)",
                    "thresholds.cloudwatch needs cloudwatch.enabled: true",
                ),
                cel(
                    "!has(self.thresholds) || !has(self.thresholds.cloudwatch) || "
                    "!has(self.thresholds.cloudwatch.maxCpuUtilizationPercent) || "
                    "(has(self.cloudwatch) && has(self.cloudwatch.instanceVcpus))",
                    "thresholds.cloudwatch.maxCpuUtilizationPercent needs cloudwatch.instanceVcpus",
                ),
                cel(
                    "!has(self.cloudwatch) || !has(self.cloudwatch.enabled) || "
                    "!self.cloudwatch.enabled || has(self.target.sagemaker)",
                    CLOUDWATCH_NEEDS_SAGEMAKER,
                ),
                cel(
                    "!has(self.thresholds) || !has(self.thresholds.streaming) || "
                    "(has(self.target.sagemaker) && has(self.target.sagemaker.stream)) || "
                    "(has(self.target.http) && has(self.target.http.stream))",
                    "thresholds.streaming needs target.sagemaker.stream or target.http.stream",
                ),
                cel(
                    "has(self.search) ? !has(self.load) || (!has(self.load.users) && "
                    "!has(self.load.targetTPS) && !has(self.load.duration) && "
                    "!has(self.load.stages)) : has(self.load) && (has(self.load.users) || "
                    "has(self.load.targetTPS) || has(self.load.stages))",
                    SEARCH_OR_LOAD,
                ),
            ]
        }
    )

    target: Target = Field(description="The endpoint under test.")
    payload: Payload = Field(description="What each request sends.")
    search: Search | None = Field(
        default=None,
        description="A capacity search instead of a single run: open-model steps from "
        "startTPS, each judged on its own window against `thresholds`, to the highest rate "
        "within them (status.capacity). Excludes load.users, load.targetTPS, load.duration "
        "and load.stages; load.workers, load.client, load.maxInFlight and "
        "load.requestTimeout still apply.",
    )
    load: Load = Field(
        default_factory=Load,
        description="Users, workers and duration (with spec.search: workers and client only).",
    )
    thresholds: Thresholds = Field(
        default_factory=Thresholds, description="Pass/fail criteria for the measurement window."
    )
    cloudwatch: CloudWatch = Field(
        default_factory=CloudWatch, description="Endpoint-side metrics (SageMaker targets)."
    )
    pod: PodSettings = Field(default_factory=PodSettings, description="Locust pod settings.")
    ttl_seconds_after_finished: int | None = Field(
        default=None,
        ge=0,
        description="Delete the resource this long after it finished (default: keep it).",
    )

    @field_validator("load")
    @classmethod
    def _load_or_search(cls, load: Load, info: ValidationInfo) -> Load:
        """A spec either shapes its load or searches; the error names spec.load."""
        if info.data.get("search") is None:
            if not load.shaped:
                raise ValueError(f"{LOAD_SHAPE} (or spec.search for a capacity search)")
            return load
        if load.shaped or load.warmup_seconds > 0:
            raise ValueError(SEARCH_OR_LOAD + " (and search.stepWarmup instead of load.warmup)")
        return load

    @model_validator(mode="after")
    def _search_fits(self) -> EndpointLoadTestSpec:
        if self.search is None:
            if "load" not in self.model_fields_set:
                raise ValueError(f"spec.load: {LOAD_SHAPE} (or spec.search)")
            return self
        search = self.search
        if self.target.stream is not None:
            raise ValueError("spec.search does not support streamed targets (target.*.stream)")
        if self.thresholds.min_tps is not None:
            raise ValueError(
                "thresholds.minTPS does not apply to a capacity search: each step is judged "
                "on latency, errors and whether its rate was sustained (search.targetTPS "
                "sizes the deployment)"
            )
        first = search.start_tps * search.step_duration_seconds
        if first < self.thresholds.min_requests:
            raise ValueError(
                f"search.startTPS x search.stepDuration gives {first:.0f} requests in the first "
                f"step, fewer than thresholds.minRequests {self.thresholds.min_requests}: "
                "raise either, or lower minRequests"
            )
        period = self.cloudwatch.period
        if self.cloudwatch.enabled and search.step_duration_seconds % period:
            raise ValueError(
                f"search.stepDuration must be a multiple of cloudwatch.period ({period}s): "
                "each step's window then spans whole CloudWatch periods of its own"
            )
        return self

    @model_validator(mode="after")
    def _streaming_thresholds(self) -> EndpointLoadTestSpec:
        if self.thresholds.streaming is not None and self.target.stream is None:
            raise ValueError(
                "thresholds.streaming needs target.sagemaker.stream or target.http.stream"
            )
        return self

    @model_validator(mode="after")
    def _cloudwatch_thresholds(self) -> EndpointLoadTestSpec:
        if self.cloudwatch.enabled and self.target.sagemaker is None:
            raise ValueError(CLOUDWATCH_NEEDS_SAGEMAKER)
        limits = self.thresholds.cloudwatch
        if limits is None:
            return self
        if not self.cloudwatch.enabled:
            raise ValueError("thresholds.cloudwatch needs cloudwatch.enabled: true")
        if limits.max_cpu_utilization_percent is not None and not self.cloudwatch.instance_vcpus:
            raise ValueError(
                "thresholds.cloudwatch.maxCpuUtilizationPercent needs cloudwatch.instanceVcpus"
            )
        return self


# --------------------------------------------------------------------------- status


class Phase(StrEnum):
    PENDING = "Pending"
    STARTING = "Starting"
    RUNNING = "Running"
    EVALUATING = "Evaluating"
    COMPLETED = "Completed"
    ERROR = "Error"


class VerdictResult(StrEnum):
    PASSED = "Passed"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"


class Condition(ApiModel):
    """A Kubernetes-style condition."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(description="Condition type, e.g. Completed or Passed.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(default="", description="CamelCase reason.")
    message: str = Field(default="", description="Human-readable detail.")
    last_transition_time: datetime | None = Field(default=None, description="Last change.")
    observed_generation: int | None = Field(default=None, description="Generation seen.")


class LatencySummary(ApiModel):
    """Response-time figures in milliseconds."""

    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    mean: float | None = None
    max: float | None = None


class CloudWatchLatency(ApiModel):
    """A CloudWatch latency metric over the window, in milliseconds."""

    average: float | None = None
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None


class CloudWatchResults(ApiModel):
    """What the endpoint reported to CloudWatch over the window (one variant)."""

    model_config = ConfigDict(extra="ignore")

    endpoint_name: str = Field(description="EndpointName dimension.")
    variant_name: str = Field(description="VariantName dimension.")
    start: datetime = Field(description="Start of the periods read (window start, aligned).")
    end: datetime = Field(description="End of the periods read (window end, aligned up).")
    period_seconds: int = Field(description="Metric period.")
    complete: bool = Field(
        default=True, description="Whether the window's last period was published in time."
    )
    model_latency_ms: CloudWatchLatency = Field(default_factory=CloudWatchLatency)
    overhead_latency_ms: CloudWatchLatency = Field(default_factory=CloudWatchLatency)
    invocations: float | None = Field(default=None, description="Invocations, Sum.")
    invocations_per_instance: float | None = Field(
        default=None, description="InvocationsPerInstance, Sum."
    )
    invocation_4xx_errors: float | None = Field(
        default=None, alias="invocation4XXErrors", description="Invocation4XXErrors, Sum."
    )
    invocation_5xx_errors: float | None = Field(
        default=None, alias="invocation5XXErrors", description="Invocation5XXErrors, Sum."
    )
    error_5xx_rate: float | None = Field(
        default=None, alias="error5xxRate", description="Invocation5XXErrors / Invocations."
    )
    cpu_utilization_percent: float | None = Field(
        default=None,
        description="CPUUtilization of the hottest instance (Maximum), summed over cores.",
    )
    cpu_utilization_average_percent: float | None = Field(
        default=None, description="CPUUtilization, Average over instances and periods."
    )
    instance_cpu_percent: float | None = Field(
        default=None,
        description="The hottest instance's CPU in percent of the instance (needs "
        "cloudwatch.instanceVcpus).",
    )
    saturated: bool | None = Field(
        default=None, description="An instance was above 90% of its CPU (needs instanceVcpus)."
    )
    memory_utilization_percent: float | None = Field(
        default=None, description="MemoryUtilization of the hottest instance (Maximum)."
    )
    gpu_utilization_percent: float | None = Field(
        default=None, description="GPUUtilization (Maximum), summed over GPUs."
    )
    gpu_memory_utilization_percent: float | None = Field(
        default=None, description="GPUMemoryUtilization (Maximum)."
    )
    missing: list[str] = Field(
        default_factory=list, description="Figures CloudWatch did not return, and why."
    )


class StreamingResults(ApiModel):
    """The token stream's figures over the measurement window (streamed targets)."""

    model_config = ConfigDict(extra="ignore")

    requests: int = Field(
        default=0, description="Successful streamed requests of the window (the figures' base)."
    )
    ttft_ms: LatencySummary = Field(
        default_factory=LatencySummary,
        description="Time to first token: from the send to the first non-empty token.",
    )
    tpot_ms: LatencySummary = Field(
        default_factory=LatencySummary,
        description="Time per output token: (end - first token) / (output tokens - 1), "
        "requests of more than one token.",
    )
    itl_ms: LatencySummary = Field(
        default_factory=LatencySummary,
        description="Inter-token latency: every gap between successive chunks carrying tokens.",
    )
    output_tokens: int = Field(default=0, description="Output tokens of the window's requests.")
    total_output_tokens: int = Field(
        default=0,
        description="Output tokens of every successful stream of the run, ramp-up and warmup "
        "included (as totalRequests).",
    )
    output_tokens_source: str | None = Field(
        default=None,
        description="Where outputTokens comes from: `usage` (the server's counts), `events` "
        "(token events counted), or `mixed`.",
    )
    input_tokens: int | None = Field(
        default=None, description="Input tokens, when the server reported them."
    )
    output_tokens_per_second: float = Field(
        default=0.0, description="outputTokens / window seconds (all requests together)."
    )
    request_output_tokens_per_second: LatencySummary = Field(
        default_factory=LatencySummary,
        description="Per-request output tokens per second (tokens / time to the stream's end).",
    )
    good_requests: int | None = Field(
        default=None, description="Requests that met every objective of thresholds.streaming.slo."
    )
    goodput: float | None = Field(
        default=None, description="goodRequests / window seconds (requests/s)."
    )


class Results(ApiModel):
    """What was measured in the measurement window (all workers combined)."""

    model_config = ConfigDict(extra="ignore")

    requests: int = Field(default=0, description="Requests started in the window.")
    failures: int = Field(default=0, description="Of those, how many failed.")
    tps: float = Field(
        default=0.0, description="requests / window seconds (failed requests included)."
    )
    success_tps: float = Field(
        default=0.0,
        description="(requests - failures) / window seconds: the answers per second, "
        "judged by thresholds.minTPS.",
    )
    error_rate: float = Field(default=0.0, description="failures / requests.")
    latency_ms: LatencySummary = Field(
        default_factory=LatencySummary,
        description="Response times of the successful requests (judged by thresholds.latencyMs).",
    )
    failure_latency_ms: LatencySummary | None = Field(
        default=None,
        description="Response times of the failed requests, beside latencyMs (never judged: "
        "a fast error is not a fast answer).",
    )
    errors_by_type: dict[str, int] = Field(
        default_factory=dict,
        description="Failures by error code (ModelError, Timeout...): the 10 most frequent, "
        "the rest counted as `other`.",
    )
    error_samples: dict[str, str] = Field(
        default_factory=dict,
        description="One message the endpoint answered per error type of errorsByType "
        "(one line, at most 200 characters, the request's own values replaced).",
    )
    errors_by_status: dict[str, int] = Field(
        default_factory=dict, description="Failures by HTTP status (4xx/5xx breakdown)."
    )
    window_seconds: float = Field(default=0.0, description="Length of the measurement window.")
    total_requests: int = Field(
        default=0, description="All requests of the run, ramp-up and warmup included."
    )
    max_worker_cpu_percent: float | None = Field(
        default=None, description="Busiest load-generator process during the window."
    )
    service_latency_ms: LatencySummary | None = Field(
        default=None,
        description="Open model: response times of the successful requests from the actual "
        "send (the service time); latencyMs is measured from the intended start and includes "
        "waiting in the generator.",
    )
    intended_requests: int | None = Field(
        default=None,
        description="Open model: requests the target rate called for in the window.",
    )
    shortfall: int | None = Field(
        default=None,
        description="Open model: intended requests not sent on time (late by more than "
        "100 ms, or not at all because load.maxInFlight was reached).",
    )
    cloudwatch: CloudWatchResults | None = Field(
        default=None, description="The endpoint's own CloudWatch figures (cloudwatch.enabled)."
    )
    streaming: StreamingResults | None = Field(
        default=None, description="The token stream's figures (streamed targets)."
    )


class Check(ApiModel):
    """One line of the verdict."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(description="The threshold checked, e.g. latencyMs.p99.")
    threshold: float | None = Field(default=None, description="The limit.")
    observed: float | None = Field(default=None, description="What was measured.")
    passed: bool = Field(description="Whether the limit was met.")
    message: str = Field(default="", description="The check in words.")


class Verdict(ApiModel):
    model_config = ConfigDict(extra="ignore")

    result: VerdictResult = Field(description="Passed, Failed or Inconclusive.")
    checks: list[Check] = Field(default_factory=list, description="One line per check.")
    message: str = Field(default="", description="Why, in one sentence.")


class RunResult(StrEnum):
    """How a past run ended: its verdict, Error, or Superseded (the spec changed under it)."""

    PASSED = "Passed"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"
    SUPERSEDED = "Superseded"


class RunRecord(ApiModel):
    """A past run, kept in status.history."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    verdict: VerdictResult | None = None
    result: RunResult | None = Field(default=None, description="How the run ended.")
    reason: str | None = Field(default=None, description="Why it ended (status.reason).")
    tps: float | None = None
    p99_ms: float | None = None


class WorkerCounts(ApiModel):
    model_config = ConfigDict(extra="ignore")

    expected: int = 0
    connected: int = 0


class StreamingProgress(ApiModel):
    """Live token-stream figures over the last seconds."""

    model_config = ConfigDict(extra="ignore")

    ttft_p50_ms: float | None = None
    ttft_p99_ms: float | None = None
    tpot_p50_ms: float | None = None
    tpot_p99_ms: float | None = None
    output_tokens_per_second: float | None = None


class Progress(ApiModel):
    """Live figures while the test runs."""

    model_config = ConfigDict(extra="ignore")

    stage: str | None = Field(default=None, description="waiting, rampUp, warmup, measuring...")
    elapsed_seconds: float | None = None
    total_seconds: float | None = None
    users: int | None = Field(default=None, description="Running users (closed model).")
    target_tps: float | None = Field(
        default=None,
        alias="targetTPS",
        description="The arrival rate being sent now (open model: load.targetTPS).",
    )
    current_rps: float | None = None
    current_p50_ms: float | None = None
    current_p99_ms: float | None = None
    failures: int | None = None
    max_worker_cpu_percent: float | None = None
    cloudwatch: CloudWatchResults | None = Field(
        default=None, description="The endpoint's CloudWatch figures so far (cloudwatch.enabled)."
    )
    streaming: StreamingProgress | None = Field(
        default=None, description="Token-stream figures of the last seconds (streamed targets)."
    )


class EndpointLoadTestStatus(ApiModel):
    """Where the test is and what it found."""

    model_config = ConfigDict(extra="ignore")

    phase: Phase | None = Field(default=None, description="Lifecycle phase.")
    run_id: str | None = Field(default=None, description="Identifier of the current run.")
    run_token: str | None = Field(
        default=None,
        description="Generation and rerun annotation the current run answers; a change "
        "starts a new run.",
    )
    message: str | None = Field(default=None, description="Human-readable state.")
    reason: str | None = Field(
        default=None,
        description="Why the run ended: its verdict, WorkerLost, MasterRestarted, Refused, "
        "StartTimeout, MasterSilent, DeadlineExceeded, ...",
    )
    started_at: datetime | None = None
    finished_at: datetime | None = None
    workers: WorkerCounts | None = None
    progress: Progress | None = None
    results: Results | None = None
    verdict: Verdict | None = None
    capacity: Capacity | None = Field(
        default=None, description="What the capacity search found (spec.search)."
    )
    conditions: list[Condition] = Field(default_factory=list)
    history: list[RunRecord] = Field(default_factory=list)
    observed_generation: int | None = None
    series: dict[str, Any] | None = Field(
        default=None,
        description="The run's live figures over time, for its report (`elt report`): one "
        "list per figure, at most 200 points (at most 15 kB), downsampled evenly: start "
        "(epoch seconds), t (seconds from start), rps, p50Ms, p99Ms, failures (cumulative), "
        "users, targetTPS, workerCpu; windowStart and windowEnd (epoch seconds) mark the "
        "measured window.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    lifecycle: dict[str, Any] | None = Field(
        default=None,
        description="The run's lifecycle bookkeeping (deadlines, the master's identity).",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )


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
