"""`elt simulate`: flags, config assembly and the serve loop's lifecycle.

Heavy imports (aiohttp, boto3) happen inside run() so that `elt --help` stays fast.
Invalid input prints one line naming the field and exits 3.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

EXIT_OK = 0
EXIT_INVALID = 3
DEFAULT_ENDPOINT = "sim-endpoint"

# flags that shape the endpoint; they build the config when --config is not given
_ENDPOINT_FLAGS = (
    "endpoint",
    "variant",
    "instances",
    "vcpus",
    "queue_depth",
    "routing",
    "distribution",
    "service_time_ms",
    "service_time_p99_ms",
    "overhead_ms",
    "model_timeout_s",
    "overload",
    "error_rate",
    "model_error_status",
    "throttle_rps",
    "throttle_burst",
    "response_body",
    "response_content_type",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the flags (documented in docs/simulator.md)."""
    g = parser.add_argument_group("serving")
    g.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    g.add_argument("--port", type=int, default=8080, help="port, 0 = any free port (8080)")
    g.add_argument("--ready-file", help='write {"url": ...} here once listening')
    g.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    g = parser.add_argument_group("endpoints (simple case; use --config for several)")
    g.add_argument("--config", help="YAML file with endpoints and variants (see docs)")
    g.add_argument(
        "--endpoint", action="append", help=f"endpoint name, repeatable ({DEFAULT_ENDPOINT})"
    )
    g.add_argument("--variant", help="production variant name (AllTraffic)")
    g.add_argument("--instances", help="instances in the variant (1)")
    g.add_argument("--vcpus", help="parallel model workers per instance (4)")
    g.add_argument("--queue-depth", help="requests that may wait per instance (32)")
    g.add_argument("--routing", help="least-outstanding | round-robin | random")
    g.add_argument("--distribution", help="service time: lognormal | constant | exponential")
    g.add_argument("--service-time-ms", help="median service time (18)")
    g.add_argument("--service-time-p99-ms", help="p99 service time, lognormal (2.5 x median)")
    g.add_argument("--overhead-ms", help="SageMaker overhead added per request (2)")
    g.add_argument("--model-timeout-s", help="container answer limit (60)")
    g.add_argument("--overload", help="full queue answers ServiceUnavailable | ModelError")
    g.add_argument(
        "--error-rate",
        action="append",
        metavar="CODE=FRACTION",
        help="inject an error, e.g. ModelError=0.01 (repeatable)",
    )
    g.add_argument("--model-error-status", help="status the model returns in ModelError (500)")
    g.add_argument("--throttle-rps", help="per-endpoint rate limit, 0 = none")
    g.add_argument("--throttle-burst", help="token bucket size (= rps)")
    g.add_argument("--response-body", help="success body (DistilBERT-like JSON)")
    g.add_argument("--response-content-type", help="success Content-Type (application/json)")
    g.add_argument("--seed", help="seed for reproducible draws")
    g.add_argument("--account-id", help="account id in messages and ARNs (123456789012)")
    g.add_argument(
        "--region",
        help="region of the endpoint; SigV4 scope must match, '*' = any "
        "(AWS_REGION, AWS_DEFAULT_REGION, else us-east-1)",
    )

    g = parser.add_argument_group("authentication")
    g.add_argument("--auth", default="sigv4", choices=["sigv4", "none"], help="(sigv4)")
    g.add_argument(
        "--access-key-id", help="accepted key id (AWS_ACCESS_KEY_ID, else 'testing' like moto)"
    )
    g.add_argument("--secret-access-key", help="its secret (AWS_SECRET_ACCESS_KEY, else 'testing')")

    g = parser.add_argument_group("CloudWatch metrics")
    g.add_argument("--metrics-period", default="60", help="seconds per period (60)")
    g.add_argument(
        "--metrics-format",
        default="statistics",
        choices=["statistics", "values"],
        help="StatisticValues sets, or Values/Counts for real percentiles",
    )
    g.add_argument(
        "--cloudwatch-endpoint-url",
        help="CloudWatch API URL (AWS_ENDPOINT_URL_CLOUDWATCH / AWS_ENDPOINT_URL)",
    )
    g.add_argument("--no-cloudwatch", action="store_true", help="publish no metrics")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_config(args: argparse.Namespace) -> Any:
    """A SimulatorConfig from --config or from the endpoint flags; ConfigError if invalid."""
    from endpoint_loadtest.simulator.config import (
        ConfigError,
        parse_config,
        read_config_document,
    )

    given = [name for name in _ENDPOINT_FLAGS if getattr(args, name, None) is not None]
    from_file = bool(args.config)
    if from_file:
        if given:
            raise ConfigError(_flag(given[0]), "cannot be combined with --config")
        document = read_config_document(args.config)
    else:
        document = {
            "endpoints": [
                _endpoint_from_flags(args, n) for n in args.endpoint or [DEFAULT_ENDPOINT]
            ]
        }
    if isinstance(document, dict):
        if args.seed is not None:
            document["seed"] = args.seed
        if args.account_id is not None:
            document["accountId"] = args.account_id
        if args.region is not None:
            document["region"] = args.region
        elif "region" not in document:
            env = os.environ
            document["region"] = (
                env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
            )
    try:
        return parse_config(document)
    except ConfigError as exc:
        if from_file:
            raise ConfigError(f"{args.config}: {exc.field}", str(exc).split(": ", 1)[1]) from None
        # name flags, not config fields, when the user typed flags
        raise ConfigError(_flag_for(exc.field), str(exc).split(": ", 1)[1]) from None


# flag attribute -> config key, in the variant, its serviceTime, response and the throttle
_VARIANT_KEYS = {
    "variant": "name",
    "instances": "instances",
    "vcpus": "vcpus",
    "queue_depth": "queueDepth",
    "routing": "routing",
    "overhead_ms": "overheadMs",
    "model_timeout_s": "modelTimeoutSeconds",
    "overload": "overload",
    "model_error_status": "modelErrorStatus",
}
_SERVICE_KEYS = {
    "distribution": "distribution",
    "service_time_ms": "medianMs",
    "service_time_p99_ms": "p99Ms",
}
_RESPONSE_KEYS = {"response_body": "body", "response_content_type": "contentType"}
_THROTTLE_KEYS = {"throttle_rps": "rps", "throttle_burst": "burst"}


def _given(args: argparse.Namespace, keys: dict[str, str]) -> dict[str, Any]:
    """The config keys of the flags the user gave, with their values."""
    return {
        key: getattr(args, attr) for attr, key in keys.items() if getattr(args, attr) is not None
    }


def _endpoint_from_flags(args: argparse.Namespace, name: str) -> dict[str, Any]:
    from endpoint_loadtest.simulator.config import ConfigError

    variant = _given(args, _VARIANT_KEYS)
    if service := _given(args, _SERVICE_KEYS):
        variant["serviceTime"] = service
    if args.error_rate:
        rates: dict[str, str] = {}
        for item in args.error_rate:
            code, sep, fraction = item.partition("=")
            if not sep:
                raise ConfigError("--error-rate", f"expected CODE=FRACTION, not {item!r}")
            rates[code.strip()] = fraction.strip()
        variant["errors"] = rates
    if response := _given(args, _RESPONSE_KEYS):
        variant["response"] = response
    endpoint: dict[str, Any] = {"name": name, "variants": [variant]}
    if throttle := _given(args, _THROTTLE_KEYS):
        endpoint["throttle"] = throttle
    return endpoint


def _flags_of(keys: dict[str, str], prefix: str = "") -> dict[str, str]:
    return {prefix + key: _flag(attr) for attr, key in keys.items()}


# a config field (below endpoints[i].variants[j]) -> the flag that sets it
_FIELD_TO_FLAG = {
    **_flags_of(_VARIANT_KEYS),
    **_flags_of(_SERVICE_KEYS, "serviceTime."),
    "errors": "--error-rate",
    **_flags_of(_RESPONSE_KEYS, "response."),
    **_flags_of(_THROTTLE_KEYS, "throttle."),
    "seed": "--seed",
    "accountId": "--account-id",
    "region": "--region",
}


def _flag_for(field_name: str) -> str:
    """Map a config path such as endpoints[0].variants[0].vcpus to its flag."""
    import re

    if re.fullmatch(r"endpoints\[\d+\]\.name", field_name):
        return "--endpoint"
    if field_name == "endpoints":
        return "--endpoint"
    tail = re.sub(r"^endpoints\[\d+\]\.(variants\[\d+\]\.)?", "", field_name)
    if tail.startswith("errors."):
        return f"--error-rate {tail.split('.', 1)[1]}"
    return _FIELD_TO_FLAG.get(tail, field_name)


def _fail(message: str) -> int:
    print(f"elt simulate: error: {message}", file=sys.stderr)
    return EXIT_INVALID


def run(args: argparse.Namespace) -> int:
    """Validate, then serve until SIGTERM/SIGINT; 0 on a clean stop, 3 on invalid input."""
    from endpoint_loadtest.simulator.config import ConfigError

    try:
        config = build_config(args)
        period = _positive(args.metrics_period, "--metrics-period")
        if not 0 <= args.port <= 65535:
            raise ConfigError("--port", f"must be 0..65535, not {args.port}")
    except ConfigError as exc:
        return _fail(str(exc))

    from endpoint_loadtest.simulator.app import serve

    return serve(args, config, period)


def _positive(raw: str, name: str) -> float:
    from endpoint_loadtest.simulator.config import ConfigError

    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"must be a number of seconds, not {raw!r}") from None
    if not value > 0:
        raise ConfigError(name, f"must be > 0, not {raw}")
    return value
