"""`spec`: the whole test, and the rules that span more than one of its parts.

Each part checks itself in its own module; what needs two parts at once (a capacity
search against the load's shape, CloudWatch thresholds against cloudwatch and the
target, streaming thresholds against a streamed target) is checked here, both as
CEL rules for the API server and as validators for `elt validate`.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from endpoint_loadtest.api.base import ApiModel, cel
from endpoint_loadtest.api.cloudwatch_models import CloudWatch
from endpoint_loadtest.api.load_models import LOAD_SHAPE, Load
from endpoint_loadtest.api.payload_models import Payload
from endpoint_loadtest.api.pod_models import PodSettings
from endpoint_loadtest.api.search_models import Search
from endpoint_loadtest.api.target_models import Target
from endpoint_loadtest.api.threshold_models import StreamingThresholds, Thresholds

SEARCH_OR_LOAD = (
    "spec.search is mutually exclusive with load.users, load.targetTPS, load.duration and "
    "load.stages: the search sets the rates and each step's window"
)
SEARCH_FLOORS = (
    "a step's throughput is its offered rate, so each step of a streamed target is "
    "judged on its TTFT and TPOT limits (thresholds.streaming.ttftMs, tpotMs), latency, "
    "errors and whether its rate was sustained; status.capacity reports each step's "
    "output tokens per second"
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
                    "!has(self.search) || !has(self.thresholds) || "
                    "!has(self.thresholds.streaming) || "
                    "(!has(self.thresholds.streaming.minOutputTokensPerSecond) && "
                    "!has(self.thresholds.streaming.minGoodput))",
                    "thresholds.streaming.minOutputTokensPerSecond and minGoodput do not "
                    "apply to a capacity search: " + SEARCH_FLOORS,
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
        streaming = self.thresholds.streaming
        for floor in ("min_output_tokens_per_second", "min_goodput"):
            if streaming is not None and getattr(streaming, floor) is not None:
                name = StreamingThresholds.model_fields[floor].alias
                raise ValueError(
                    f"thresholds.streaming.{name} does not apply to a capacity search: "
                    + SEARCH_FLOORS
                )
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
