"""`status.results`: what was measured in the measurement window.

The client-side figures of all workers together, the endpoint's CloudWatch figures
and the token stream's figures. The status's live progress reuses the CloudWatch
figures, so they live here rather than in status_models.py.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from endpoint_loadtest.api.base import ApiModel


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
