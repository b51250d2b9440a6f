"""`spec.payload`: the request bodies, inline or from ConfigMap keys, alone or as a mix.

Every form the user may write (one body, one ConfigMap key, a weighted or round-robin
list) comes down to a list of bodies (`Payload.all_bodies`) for the load generator.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from endpoint_loadtest.api.base import ApiModel, cel
from endpoint_loadtest.api.patterns import DNS_SUBDOMAIN


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
