"""`spec.thresholds`: what the endpoint must achieve in the measurement window to pass.

Client-side limits (rate, errors, latency percentiles), the endpoint's own CloudWatch
figures and, for streamed targets, the token stream's figures and goodput objectives.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from endpoint_loadtest.api.base import ApiModel

PERCENTILES = ("p50", "p90", "p95", "p99")


DEFAULT_MAX_ERROR_RATE = 0.01


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
