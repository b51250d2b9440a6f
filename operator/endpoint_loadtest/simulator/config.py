"""The simulator's configuration: endpoints, variants and their model, from YAML or flags.

Every validation failure raises ConfigError naming the offending field (for example
`endpoints[0].variants[1].vcpus`), so that `elt simulate` can print one clear line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

# Injectable error codes, in the order a request's random draw is matched against them.
FRONT_END_ERRORS = (
    "ValidationError",
    "ThrottlingException",
    "ModelNotReadyException",
    "InternalFailure",
    "ServiceUnavailable",
)
MODEL_ERRORS = ("ModelError",)
ERROR_CODES = FRONT_END_ERRORS + MODEL_ERRORS

DISTRIBUTIONS = ("lognormal", "constant", "exponential")
ROUTINGS = ("least-outstanding", "round-robin", "random")
OVERLOAD_SHAPES = ("ServiceUnavailable", "ModelError")
ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
VARIANT_NAME = ENDPOINT_NAME
DEFAULT_BODY = '[{"label":"POSITIVE","score":0.9998}]'
Z99 = 2.3263478740408408  # standard normal quantile at 0.99


class ConfigError(ValueError):
    """Invalid user input; the message names the field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class ServiceTime:
    """Per-request time a model worker is busy (seconds in the model, ms in config).

    lognormal: by median and p99 (sigma = ln(p99/median) / z99);
    constant: always medianMs; exponential: mean = medianMs / ln 2.
    """

    distribution: str = "lognormal"
    median_ms: float = 18.0
    p99_ms: float = 45.0

    @property
    def sigma(self) -> float:
        if self.distribution != "lognormal" or self.p99_ms <= self.median_ms:
            return 0.0
        return math.log(self.p99_ms / self.median_ms) / Z99

    @property
    def mean_ms(self) -> float:
        if self.distribution == "constant":
            return self.median_ms
        if self.distribution == "exponential":
            return self.median_ms / math.log(2)
        return self.median_ms * math.exp(self.sigma**2 / 2)


@dataclass(frozen=True)
class VariantConfig:
    """One production variant: identical instances, each with `vcpus` model workers."""

    name: str = "AllTraffic"
    weight: float = 1.0
    instances: int = 1
    vcpus: int = 4
    queue_depth: int = 32
    routing: str = "least-outstanding"
    service_time: ServiceTime = field(default_factory=ServiceTime)
    overhead_ms: float = 2.0
    model_timeout_s: float = 60.0
    overload: str = "ServiceUnavailable"
    error_rates: dict[str, float] = field(default_factory=dict)
    model_error_status: int = 500
    response_body: str = DEFAULT_BODY
    response_content_type: str = "application/json"
    memory_base_percent: float = 35.0
    memory_per_busy_worker_percent: float = 1.5
    # A streaming LLM model (simulator/streaming_model.py StreamingConfig), or None.
    streaming: Any = None

    @property
    def capacity_rps(self) -> float:
        """Requests/s the variant sustains when every worker is busy."""
        return self.instances * self.vcpus * 1000.0 / self.service_time.mean_ms


@dataclass(frozen=True)
class ThrottleConfig:
    """Account-level style request rate limit per endpoint (token bucket); 0 = off."""

    rps: float = 0.0
    burst: float = 0.0


@dataclass(frozen=True)
class EndpointConfig:
    name: str
    variants: tuple[VariantConfig, ...]
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig)


@dataclass(frozen=True)
class SimulatorConfig:
    endpoints: tuple[EndpointConfig, ...]
    seed: int | None = None
    account_id: str = "123456789012"
    region: str = "us-east-1"


# --------------------------------------------------------------------------- parsing


def _number(
    raw: Any, name: str, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        if isinstance(raw, str):
            try:
                raw = float(raw)
            except ValueError:
                raise ConfigError(name, f"must be a number, not {raw!r}") from None
        else:
            raise ConfigError(name, f"must be a number, not {raw!r}")
    value = float(raw)
    if math.isnan(value) or math.isinf(value):
        raise ConfigError(name, "must be a finite number")
    if minimum is not None and value < minimum:
        raise ConfigError(name, f"must be >= {minimum:g}, not {value:g}")
    if maximum is not None and value > maximum:
        raise ConfigError(name, f"must be <= {maximum:g}, not {value:g}")
    return value


def _integer(raw: Any, name: str, *, minimum: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
            raw = int(raw)
        else:
            raise ConfigError(name, f"must be an integer, not {raw!r}")
    if raw < minimum:
        raise ConfigError(name, f"must be >= {minimum}, not {raw}")
    return int(raw)


def _choice(raw: Any, name: str, choices: tuple[str, ...]) -> str:
    if raw not in choices:
        raise ConfigError(name, f"must be one of {', '.join(choices)}, not {raw!r}")
    return str(raw)


def _mapping(raw: Any, name: str, allowed: set[str]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(name, f"must be a mapping, not {type(raw).__name__}")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(
            f"{name}.{unknown[0]}", f"unknown field (allowed: {', '.join(sorted(allowed))})"
        )
    return raw


def parse_service_time(raw: Any, name: str) -> ServiceTime:
    data = _mapping(raw, name, {"distribution", "medianMs", "p99Ms"})
    dist = _choice(data.get("distribution", "lognormal"), f"{name}.distribution", DISTRIBUTIONS)
    median = _number(data.get("medianMs", 18.0), f"{name}.medianMs", minimum=0.0)
    default_p99 = median * 2.5 if "medianMs" in data else 45.0
    p99 = _number(data.get("p99Ms", default_p99), f"{name}.p99Ms", minimum=0.0)
    if dist == "lognormal" and p99 < median:
        raise ConfigError(f"{name}.p99Ms", f"must be >= medianMs ({median:g}), not {p99:g}")
    if dist == "lognormal" and median <= 0:
        raise ConfigError(f"{name}.medianMs", "must be > 0 for a lognormal distribution")
    return ServiceTime(distribution=dist, median_ms=median, p99_ms=p99)


def parse_error_rates(raw: Any, name: str) -> dict[str, float]:
    data = _mapping(raw, name, set(ERROR_CODES))
    rates = {
        code: _number(value, f"{name}.{code}", minimum=0.0, maximum=1.0)
        for code, value in data.items()
    }
    if sum(rates.values()) > 1.0 + 1e-9:
        raise ConfigError(name, "the error rates add up to more than 1")
    return {code: rate for code, rate in rates.items() if rate > 0}


_VARIANT_FIELDS = {
    "name",
    "weight",
    "instances",
    "vcpus",
    "queueDepth",
    "routing",
    "serviceTime",
    "overheadMs",
    "modelTimeoutSeconds",
    "overload",
    "errors",
    "modelErrorStatus",
    "response",
    "memory",
    "streaming",
}


def parse_variant(raw: Any, name: str) -> VariantConfig:
    data = _mapping(raw, name, _VARIANT_FIELDS)
    variant_name = str(data.get("name", "AllTraffic"))
    if not VARIANT_NAME.match(variant_name):
        raise ConfigError(f"{name}.name", f"invalid variant name {variant_name!r}")
    response = _mapping(data.get("response"), f"{name}.response", {"body", "contentType"})
    memory = _mapping(data.get("memory"), f"{name}.memory", {"basePercent", "perBusyWorkerPercent"})
    body = response.get("body", DEFAULT_BODY)
    if not isinstance(body, str):
        raise ConfigError(f"{name}.response.body", "must be a string")
    return VariantConfig(
        name=variant_name,
        weight=_number(data.get("weight", 1.0), f"{name}.weight", minimum=0.0),
        instances=_integer(data.get("instances", 1), f"{name}.instances", minimum=1),
        vcpus=_integer(data.get("vcpus", 4), f"{name}.vcpus", minimum=1),
        queue_depth=_integer(data.get("queueDepth", 32), f"{name}.queueDepth", minimum=0),
        routing=_choice(data.get("routing", "least-outstanding"), f"{name}.routing", ROUTINGS),
        service_time=parse_service_time(data.get("serviceTime"), f"{name}.serviceTime"),
        overhead_ms=_number(data.get("overheadMs", 2.0), f"{name}.overheadMs", minimum=0.0),
        model_timeout_s=_number(
            data.get("modelTimeoutSeconds", 60.0), f"{name}.modelTimeoutSeconds", minimum=0.001
        ),
        overload=_choice(
            data.get("overload", "ServiceUnavailable"), f"{name}.overload", OVERLOAD_SHAPES
        ),
        error_rates=parse_error_rates(data.get("errors"), f"{name}.errors"),
        model_error_status=_integer(
            data.get("modelErrorStatus", 500), f"{name}.modelErrorStatus", minimum=400
        ),
        response_body=body,
        response_content_type=str(response.get("contentType", "application/json")),
        memory_base_percent=_number(
            memory.get("basePercent", 35.0), f"{name}.memory.basePercent", minimum=0, maximum=100
        ),
        memory_per_busy_worker_percent=_number(
            memory.get("perBusyWorkerPercent", 1.5),
            f"{name}.memory.perBusyWorkerPercent",
            minimum=0,
            maximum=100,
        ),
        streaming=_streaming(data.get("streaming"), f"{name}.streaming"),
    )


def _streaming(raw: Any, name: str) -> Any:
    from endpoint_loadtest.simulator.streaming_model import parse_streaming

    return parse_streaming(raw, name)


def parse_endpoint(raw: Any, name: str) -> EndpointConfig:
    data = _mapping(raw, name, {"name", "variants", "throttle"})
    endpoint_name = data.get("name")
    if not isinstance(endpoint_name, str) or not ENDPOINT_NAME.match(endpoint_name):
        raise ConfigError(f"{name}.name", f"invalid endpoint name {endpoint_name!r}")
    raw_variants = data.get("variants", [{}])
    if not isinstance(raw_variants, list) or not raw_variants:
        raise ConfigError(f"{name}.variants", "must be a non-empty list")
    variants = tuple(parse_variant(v, f"{name}.variants[{i}]") for i, v in enumerate(raw_variants))
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ConfigError(f"{name}.variants", f"duplicate variant names in {names}")
    if sum(v.weight for v in variants) <= 0:
        raise ConfigError(f"{name}.variants", "at least one variant needs a weight > 0")
    throttle = _mapping(data.get("throttle"), f"{name}.throttle", {"rps", "burst"})
    rps = _number(throttle.get("rps", 0.0), f"{name}.throttle.rps", minimum=0.0)
    burst = _number(throttle.get("burst", rps), f"{name}.throttle.burst", minimum=0.0)
    return EndpointConfig(
        name=endpoint_name,
        variants=variants,
        throttle=ThrottleConfig(rps=rps, burst=max(burst, 1.0) if rps else 0.0),
    )


def parse_config(raw: Any) -> SimulatorConfig:
    """Build a SimulatorConfig from a decoded YAML document (see examples/simulator.yaml)."""
    data = _mapping(raw, "config", {"seed", "accountId", "region", "endpoints"})
    raw_endpoints = data.get("endpoints")
    if not isinstance(raw_endpoints, list) or not raw_endpoints:
        raise ConfigError("endpoints", "must be a non-empty list")
    endpoints = tuple(parse_endpoint(e, f"endpoints[{i}]") for i, e in enumerate(raw_endpoints))
    names = [e.name for e in endpoints]
    if len(set(names)) != len(names):
        raise ConfigError("endpoints", f"duplicate endpoint names in {names}")
    seed = data.get("seed")
    account = str(data.get("accountId", "123456789012"))
    if not re.fullmatch(r"\d{12}", account):
        raise ConfigError("accountId", f"must be 12 digits, not {account!r}")
    return SimulatorConfig(
        endpoints=endpoints,
        seed=None if seed is None else _integer(seed, "seed", minimum=0),
        account_id=account,
        region=_region(data.get("region", "us-east-1")),
    )


def _region(raw: Any) -> str:
    if raw != "*" and not (
        isinstance(raw, str) and re.fullmatch(r"[a-z]{2}(-[a-z0-9]+)+-\d+", raw)
    ):
        raise ConfigError("region", f"must be an AWS region such as us-east-1 or '*', not {raw!r}")
    return raw


def read_config_document(path: str) -> Any:
    """The decoded YAML document of a config file (validated later by parse_config)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except OSError as exc:
        raise ConfigError("--config", f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError("--config", f"{path} is not valid YAML: {exc}") from None


def load_config_file(path: str) -> SimulatorConfig:
    """Read and validate a YAML config file; ConfigError on any problem."""
    return parse_config(read_config_document(path))
