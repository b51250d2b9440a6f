"""Request headers from Secrets, without the operator ever reading a Secret.

A credential written in ``target.http.headers`` would travel in the plan ConfigMap
(readable with the built-in ``view`` role), in kopf's last-handled-configuration
annotation and in logs. ``target.http.headersFrom`` names a Secret key instead: the
operator gives the Locust containers one variable per header with
``valueFrom.secretKeyRef`` (the kubelet fills it), the plan carries only the
variable's name, and the load generator reads the value in the pod when it starts.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from endpoint_loadtest.api.base import ApiModel, cel
from endpoint_loadtest.api.patterns import DNS_SUBDOMAIN

# Headers that carry credentials: refused in target.http.headers (case-insensitively).
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie", "x-api-key", "api-key")
CREDENTIAL_HEADERS_MESSAGE = (
    "must not carry authorization, proxy-authorization, cookie, x-api-key or api-key "
    "headers: they would be stored in the clear; take them from a Secret with "
    "target.http.headersFrom"
)
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"  # an RFC 9110 token
SECRET_KEY = r"^[-._a-zA-Z0-9]+$"
HEADER_ENV_PREFIX = "ELT_HEADER_"
MAX_HEADERS = 32
MAX_HEADERS_FROM = 16

HTTP_HEADER_RULES = [
    cel(
        f"!has(self.headers) || self.headers.all(k, !(k.lowerAscii() in "
        f"{list(CREDENTIAL_HEADERS)}))",
        CREDENTIAL_HEADERS_MESSAGE,
        ".headers",
    ),
    cel(
        "!has(self.headersFrom) || !has(self.headers) || self.headersFrom.all(h, "
        "!self.headers.exists(k, k.lowerAscii() == h.name.lowerAscii()))",
        "a header is set both in headers and in headersFrom",
        ".headersFrom",
    ),
    cel(
        "!has(self.headersFrom) || self.headersFrom.all(h, "
        "self.headersFrom.filter(o, o.name.lowerAscii() == h.name.lowerAscii()).size() == 1)",
        "each header may appear once in headersFrom",
        ".headersFrom",
    ),
]


class SecretKeySelector(ApiModel):
    name: str = Field(
        min_length=1, max_length=253, pattern=DNS_SUBDOMAIN, description="Secret name."
    )
    key: str = Field(min_length=1, max_length=253, pattern=SECRET_KEY, description="Secret key.")


class HeaderFromSecret(ApiModel):
    """One request header whose value is a Secret key, read in the Locust pods only."""

    name: str = Field(min_length=1, max_length=256, pattern=HEADER_NAME, description="Header.")
    secret_key_ref: SecretKeySelector = Field(
        description="The Secret key holding the value (in the test's namespace)."
    )
    prefix: str | None = Field(
        default=None,
        max_length=256,
        pattern=r"^[^\r\n\x00]*$",
        description='Text sent before the value, for example "Bearer ".',
    )


def check_headers(
    headers: dict[str, str] | None, headers_from: list[HeaderFromSecret] | None
) -> None:
    """The pydantic side of HTTP_HEADER_RULES, field named as the CRD names it."""
    for name in headers or {}:
        if name.lower() in CREDENTIAL_HEADERS:
            raise ValueError(f"target.http.headers[{name!r}] {CREDENTIAL_HEADERS_MESSAGE}")
    literal = {name.lower() for name in headers or {}}
    seen: set[str] = set()
    for index, header in enumerate(headers_from or []):
        lowered = header.name.lower()
        if lowered in literal:
            raise ValueError(
                f"target.http.headersFrom[{index}].name: {header.name} is also in "
                "target.http.headers"
            )
        if lowered in seen:
            raise ValueError(f"target.http.headersFrom[{index}].name: {header.name} appears twice")
        seen.add(lowered)


def header_env_name(index: int) -> str:
    """The variable of the Locust containers that holds headersFrom[index]'s value."""
    return f"{HEADER_ENV_PREFIX}{index}"


def secret_header_env(headers_from: list[HeaderFromSecret] | None) -> list[dict[str, Any]]:
    """Container env entries the kubelet fills from the Secrets (never the operator)."""
    return [
        {
            "name": header_env_name(index),
            "valueFrom": {"secretKeyRef": header.secret_key_ref.to_wire()},
        }
        for index, header in enumerate(headers_from or [])
    ]


def planned_headers_from(headers_from: list[HeaderFromSecret]) -> list[dict[str, str]]:
    """What the plan says of each header: its name, the variable and the prefix."""
    return [
        {"name": h.name, "env": header_env_name(i), "prefix": h.prefix or ""}
        for i, h in enumerate(headers_from)
    ]
