"""What the scraper asks CloudWatch for: the metrics, their statistics, the queries.

Dimensions EndpointName and VariantName (the target's variant or AllTraffic):

- `AWS/SageMaker`: ModelLatency and OverheadLatency (Average; p50, p90, p99 as
  extended statistics; microseconds), Invocations, InvocationsPerInstance,
  Invocation4XXErrors, Invocation5XXErrors (Sum);
- `/aws/sagemaker/Endpoints`: CPUUtilization (Maximum = hottest instance, Average),
  MemoryUtilization, GPUUtilization, GPUMemoryUtilization (Maximum).

The standard statistics and the percentiles are separate lists because they go in two
requests of one batch (a service that cannot compute percentiles still yields the
rest); the probes, at the configured period, tell whether the last period is published.
"""

from __future__ import annotations

from typing import Any

from endpoint_loadtest.api.models import EndpointLoadTestSpec

NS_INVOCATIONS = "AWS/SageMaker"
NS_INSTANCES = "/aws/sagemaker/Endpoints"
DEFAULT_VARIANT = "AllTraffic"

# (query id, namespace, metric, statistic)
STANDARD_QUERIES: tuple[tuple[str, str, str, str], ...] = (
    ("model_latency_avg", NS_INVOCATIONS, "ModelLatency", "Average"),
    ("overhead_latency_avg", NS_INVOCATIONS, "OverheadLatency", "Average"),
    ("invocations", NS_INVOCATIONS, "Invocations", "Sum"),
    ("invocations_per_instance", NS_INVOCATIONS, "InvocationsPerInstance", "Sum"),
    ("errors_4xx", NS_INVOCATIONS, "Invocation4XXErrors", "Sum"),
    ("errors_5xx", NS_INVOCATIONS, "Invocation5XXErrors", "Sum"),
    ("cpu_max", NS_INSTANCES, "CPUUtilization", "Maximum"),
    ("cpu_avg", NS_INSTANCES, "CPUUtilization", "Average"),
    ("memory_max", NS_INSTANCES, "MemoryUtilization", "Maximum"),
    ("gpu_max", NS_INSTANCES, "GPUUtilization", "Maximum"),
    ("gpu_memory_max", NS_INSTANCES, "GPUMemoryUtilization", "Maximum"),
)
PERCENTILE_QUERIES: tuple[tuple[str, str, str, str], ...] = tuple(
    (f"{prefix}_{stat}", NS_INVOCATIONS, metric, stat)
    for prefix, metric in (
        ("model_latency", "ModelLatency"),
        ("overhead_latency", "OverheadLatency"),
    )
    for stat in ("p50", "p90", "p99")
)
# At the configured period: has the window's last period been published?
PROBE_QUERIES: tuple[tuple[str, str, str, str], ...] = (
    ("probe_invocations", NS_INVOCATIONS, "Invocations", "SampleCount"),
    ("probe_cpu", NS_INSTANCES, "CPUUtilization", "SampleCount"),
)
# Figures GPU-less endpoints never have: their absence is not worth a note.
OPTIONAL_IDS = {"gpu_max", "gpu_memory_max"}


def target_dimensions(spec: EndpointLoadTestSpec) -> tuple[str, str, str] | None:
    """(endpoint, variant, region) of a SageMaker target, else None."""
    sagemaker = spec.target.sagemaker
    if sagemaker is None:
        return None
    return sagemaker.endpoint_name, sagemaker.variant_name or DEFAULT_VARIANT, sagemaker.region


def dimensions(endpoint: str, variant: str) -> list[dict[str, str]]:
    return [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]


def build_queries(
    endpoint: str,
    variant: str,
    specs: tuple[tuple[str, str, str, str], ...],
    period: int,
) -> list[dict[str, Any]]:
    dims = dimensions(endpoint, variant)
    return [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
                "Period": period,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for query_id, namespace, metric, stat in specs
    ]
