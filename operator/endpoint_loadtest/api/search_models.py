"""The capacity search's API: `spec.search` and its answer, `status.capacity`.

A test with `spec.search` steps an open-model arrival rate up from `startTPS` until
the endpoint breaks the test's own thresholds, then bisects to `precision`, to find
the highest rate one deployment (`instances`) sustains within its SLO: step 1 of AWS's
load-testing practice ("Best practices for load testing Amazon SageMaker real-time
inference endpoints"). From it, step 2: the instance count for `targetTPS` at
`targetUtilization`, and AWS's autoscaling target
(SageMakerVariantInvocationsPerInstance = per-instance TPS x safetyFactor x 60).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_serializer, model_validator

from endpoint_loadtest.api.base import ApiModel, cel
from endpoint_loadtest.api.durations import Duration, parse_duration

DEFAULT_PRECISION = 0.05
DEFAULT_MAX_STEPS = 12
DEFAULT_TARGET_UTILIZATION = 0.65
DEFAULT_SAFETY_FACTOR = 0.5
LIMITS = ("latency", "errors", "throughput", "cpu", "generator")
Limit = Literal["latency", "errors", "throughput", "cpu", "generator"]


class Search(ApiModel):
    """A capacity search instead of a single run (see the module)."""

    model_config = {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                cel(
                    "self.maxTPS >= self.startTPS",
                    "search.maxTPS must be at least search.startTPS",
                    ".maxTPS",
                )
            ]
        }
    }

    start_tps: float = Field(
        alias="startTPS",
        gt=0,
        le=1000000,
        description="The first step's arrival rate (requests started per second, across all "
        "workers). Each later step doubles it until a step breaks the thresholds.",
    )
    max_tps: float = Field(
        alias="maxTPS",
        gt=0,
        le=1000000,
        description="The highest rate the search may offer. A step at maxTPS that still "
        "meets the thresholds ends the search Inconclusive: the endpoint sustains at least "
        "that much (status.capacity.atLeast).",
    )
    step_duration: Duration = Field(
        default="30s",
        description="Each step's measurement window, judged like a single test's window "
        "(at least cloudwatch.period when cloudwatch.enabled).",
    )
    step_warmup: Duration = Field(
        default="10s",
        description="Load at the step's rate before its window opens (the endpoint's "
        "queues settle to the new rate), never judged.",
    )
    precision: float = Field(
        default=DEFAULT_PRECISION,
        ge=0.001,
        le=1,
        description="Bisection ends when the first failing rate is within this fraction "
        "above the last passing one (0.05 = 5%).",
    )
    max_steps: int = Field(
        default=DEFAULT_MAX_STEPS,
        ge=1,
        le=50,
        description="The most steps the search runs; reaching it before the precision ends "
        "the search Inconclusive.",
    )
    instances: int = Field(
        default=1,
        ge=1,
        le=10000,
        description="How many instances serve the endpoint during the search (AWS's "
        "load-testing practice benchmarks one): perInstanceTPS = maxTPS / instances.",
    )
    target_tps: float | None = Field(
        default=None,
        alias="targetTPS",
        gt=0,
        le=10000000,
        description="The production rate to size for: status.capacity.recommendation gives "
        "the instance count for it.",
    )
    target_utilization: float = Field(
        default=DEFAULT_TARGET_UTILIZATION,
        gt=0,
        le=1,
        description="The share of an instance's capacity to plan for (AWS's practice: 60-70%): "
        "instances = ceil(targetTPS / (perInstanceTPS x targetUtilization)).",
    )
    safety_factor: float = Field(
        default=DEFAULT_SAFETY_FACTOR,
        gt=0,
        le=1,
        description="AWS's SAFETY_FACTOR of the autoscaling target: "
        "SageMakerVariantInvocationsPerInstance = perInstanceTPS x safetyFactor x 60.",
    )

    @model_validator(mode="after")
    def _bounds(self) -> Search:
        if self.max_tps < self.start_tps:
            raise ValueError(
                f"search.maxTPS must be at least search.startTPS ({self.max_tps:g} < "
                f"{self.start_tps:g})"
            )
        if self.step_duration_seconds <= 0:
            raise ValueError("search.stepDuration must be longer than 0s")
        return self

    @property
    def step_duration_seconds(self) -> float:
        return parse_duration(self.step_duration)

    @property
    def step_warmup_seconds(self) -> float:
        return parse_duration(self.step_warmup)

    @property
    def step_seconds(self) -> float:
        return self.step_warmup_seconds + self.step_duration_seconds

    @property
    def planned_seconds(self) -> float:
        """The longest the search's load can last: every step run."""
        return self.max_steps * self.step_seconds


class _Answer(ApiModel):
    """Answers keep their null fields on the wire: `maxTPS: null` says "not found"."""

    model_config = {"extra": "ignore"}

    @model_serializer(mode="wrap")
    def _with_nulls(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for name, field in type(self).model_fields.items():
            key = field.alias or name
            data.setdefault(key, None)
        return data


class CapacityStep(_Answer):
    """One step of the search: its rate, what it achieved, and whether it met the SLO."""

    index: int = Field(description="1 for the first step.")
    offered_tps: float = Field(alias="offeredTPS", description="The arrival rate sent.")
    achieved_tps: float = Field(
        alias="achievedTPS",
        description="Successful requests of the step's window / window seconds (as a "
        "single test's successTps).",
    )
    p50_ms: float | None = Field(default=None, description="Successful requests' p50.")
    p99_ms: float | None = Field(default=None, description="Successful requests' p99.")
    error_rate: float = Field(default=0.0, description="Failed / requests of the window.")
    errors_by_type: dict[str, int] = Field(default_factory=dict, description="Failures by type.")
    cpu_per_instance: float | None = Field(
        default=None,
        description="CloudWatch CPUUtilization of the hottest instance in percent of the "
        "instance (needs cloudwatch.instanceVcpus).",
    )
    ttft_p50_ms: float | None = Field(
        default=None, description="Streamed targets: the window's time to first token, p50."
    )
    ttft_p99_ms: float | None = Field(
        default=None, description="Streamed targets: the window's time to first token, p99."
    )
    tpot_p50_ms: float | None = Field(
        default=None, description="Streamed targets: the window's time per output token, p50."
    )
    tpot_p99_ms: float | None = Field(
        default=None, description="Streamed targets: the window's time per output token, p99."
    )
    output_tokens_per_second: float | None = Field(
        default=None,
        description="Streamed targets: output tokens of the window's successful streams / "
        "window seconds (a single test's results.streaming.outputTokensPerSecond).",
    )
    passed: bool = Field(description="Whether the step met every threshold and was sustained.")
    limited_by: Limit | None = Field(default=None, description="What failed the step.")
    message: str = Field(default="", description="The step's verdict in words.")
    window_start: str = Field(description="Start of the step's window (ISO 8601, UTC).")
    window_end: str = Field(description="End of the step's window (ISO 8601, UTC).")


class Recommendation(_Answer):
    """Step 2 of AWS's practice: the deployment for targetTPS, and its autoscaling target."""

    target_tps: float = Field(alias="targetTPS", description="search.targetTPS.")
    target_utilization: float = Field(description="search.targetUtilization.")
    instances: int = Field(description="ceil(targetTPS / (perInstanceTPS x targetUtilization)).")
    safety_factor: float = Field(description="search.safetyFactor.")
    invocations_per_instance_target: float = Field(
        description="perInstanceTPS x safetyFactor x 60: the target value of "
        "SageMakerVariantInvocationsPerInstance (invocations per instance per minute)."
    )
    scaling_policy: dict[str, Any] = Field(
        description="An Application Auto Scaling TargetTrackingScalingPolicyConfiguration "
        "for SageMakerVariantInvocationsPerInstance, ready for `aws application-autoscaling "
        "put-scaling-policy --target-tracking-scaling-policy-configuration`.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )


class Capacity(_Answer):
    """What the capacity search found."""

    max_tps: float | None = Field(
        default=None,
        alias="maxTPS",
        description="Achieved TPS of the highest step that met the SLO (null: none did).",
    )
    at_least: bool = Field(
        default=False,
        description="maxTPS passed at search.maxTPS without a failure: the endpoint "
        "sustains at least this much.",
    )
    per_instance_tps: float | None = Field(
        default=None, alias="perInstanceTPS", description="maxTPS / search.instances."
    )
    instances: int = Field(default=1, description="search.instances.")
    limited_by: Limit | None = Field(
        default=None,
        description="What broke the SLO at the first failing step above maxTPS: latency "
        "(thresholds.latencyMs, and a streamed target's streaming.ttftMs and tpotMs), "
        "errors (throttling included: it is not saturation), throughput (achieved below 97% "
        "of offered), cpu (CloudWatch), or generator (the load generator, not the endpoint).",
    )
    limit_detail: str = Field(
        default="",
        description="The limit in words, with its figures (a streamed target's TTFT or TPOT "
        'limit is a latency limit, named here: "TTFT p99 412 ms > 300 ms").',
    )
    output_tokens_per_second: float | None = Field(
        default=None,
        description="Streamed targets: output tokens per second of the maxTPS step.",
    )
    steps: list[CapacityStep] = Field(default_factory=list, description="Every step, in order.")
    recommendation: Recommendation | None = Field(
        default=None, description="The deployment for search.targetTPS (needs maxTPS)."
    )
