"""`spec.cloudwatch`: reading the endpoint's own metrics from CloudWatch.

Settings, not limits (those are thresholds.cloudwatch): whether to scrape, the
metric period (only periods GetMetricData accepts), the instance's vCPUs and how
long to wait for the last period to be published.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator

from endpoint_loadtest.api.base import ApiModel, cel
from endpoint_loadtest.api.durations import Duration, parse_duration

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
