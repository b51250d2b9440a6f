"""`spec.target`: the endpoint under test, SageMaker or plain HTTP, and its streaming.

Exactly one kind of target is set; each says how requests reach it (InvokeEndpoint
fields, or a URL with headers) and whether its responses are read as a token stream.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from endpoint_loadtest.api.base import ApiModel, cel
from endpoint_loadtest.api.headers import (
    HTTP_HEADER_RULES,
    MAX_HEADERS,
    MAX_HEADERS_FROM,
    HeaderFromSecret,
    check_headers,
)

# The shape of a real AWS region: us-east-1, eu-central-2, us-gov-west-1, us-isob-east-1.
AWS_REGION = (
    r"^[a-z]{2}(-gov|-iso[a-z]?)?-"
    r"(north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9][0-9]?$"
)


STREAM_FORMATS = ("tgi", "jsonlines", "openai", "auto")


class StreamSettings(ApiModel):
    """Streamed responses (LLM token streaming); its presence turns streaming on."""

    format: Literal["tgi", "jsonlines", "openai", "auto"] = Field(
        default="auto",
        description="How the stream's lines are written: `tgi` (Hugging Face TGI server-sent "
        "events), `jsonlines` (LMI/DJL rolling batch, one JSON object per line), `openai` "
        "(OpenAI-compatible `data:` chunks ending with `data: [DONE]`), or `auto` (detected "
        "from the first event).",
    )
    include_usage: bool = Field(
        default=True,
        description="openai: ask for the server's token counts "
        "(stream_options.include_usage), used for outputTokens when sent.",
    )


class SageMakerTarget(ApiModel):
    """A SageMaker real-time endpoint, called with sagemaker-runtime InvokeEndpoint."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.stream) || !has(self.targetModel)",
                    "InvokeEndpointWithResponseStream has no TargetModel "
                    "(multi-model endpoints do not stream)",
                    ".targetModel",
                )
            ]
        }
    )

    endpoint_name: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
        description="Name of the SageMaker endpoint (EndpointName).",
    )
    region: str = Field(
        max_length=32,
        pattern=AWS_REGION,
        description="AWS region of the endpoint, for example us-east-1 or us-gov-west-1.",
    )
    variant_name: str | None = Field(
        default=None,
        max_length=63,
        pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
        description="Production variant to call, sent as TargetVariant. Also selects the "
        "VariantName dimension of the CloudWatch metrics (default AllTraffic).",
    )
    content_type: str = Field(
        default="application/json",
        max_length=1024,
        description="MIME type of the request body (ContentType).",
    )
    accept: str | None = Field(
        default=None, max_length=1024, description="Desired MIME type of the response (Accept)."
    )
    custom_attributes: str | None = Field(
        default=None,
        max_length=1024,
        description="Opaque value passed to the model container (CustomAttributes).",
    )
    target_model: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Model to invoke on a multi-model endpoint (TargetModel).",
    )
    inference_component_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        description="Inference component to invoke (InferenceComponentName).",
    )
    stream: StreamSettings | None = Field(
        default=None,
        description="Call InvokeEndpointWithResponseStream and measure the token stream "
        "(time to first token, time per output token, tokens per second).",
    )

    @model_validator(mode="after")
    def _stream_without_target_model(self) -> SageMakerTarget:
        if self.stream is not None and self.target_model is not None:
            raise ValueError(
                "target.sagemaker.targetModel: InvokeEndpointWithResponseStream has no "
                "TargetModel (multi-model endpoints do not stream)"
            )
        return self


class HttpTarget(ApiModel):
    """Any HTTP inference endpoint (KServe, Triton, a model server behind a load balancer)."""

    url: str = Field(
        pattern=r"^https?://[^\s]+$",
        max_length=2048,
        description="Full URL requests are sent to, for example http://model.ns.svc:8080/predict.",
    )
    method: Literal["POST", "PUT", "GET"] = Field(default="POST", description="HTTP method.")
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": HTTP_HEADER_RULES})

    headers: dict[str, str] | None = Field(
        default=None,
        max_length=MAX_HEADERS,
        description="Extra request headers, stored in the clear (plan ConfigMap, the "
        "resource itself): never credentials. Authorization, Cookie and API keys come "
        "from a Secret with headersFrom.",
    )
    headers_from: list[HeaderFromSecret] | None = Field(
        default=None,
        max_length=MAX_HEADERS_FROM,
        description="Request headers whose values are Secret keys: the kubelet puts them "
        "into the Locust pods, the operator never reads them.",
    )
    stream: StreamSettings | None = Field(
        default=None,
        description="Read the response as a token stream (OpenAI-compatible servers such as "
        "vLLM or TGI's Messages API) and measure it.",
    )

    @model_validator(mode="after")
    def _headers_safe(self) -> HttpTarget:
        check_headers(self.headers, self.headers_from)
        return self


class Target(ApiModel):
    """What is load tested. Exactly one kind of target."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "[has(self.sagemaker), has(self.http)].filter(x, x).size() == 1",
                    "exactly one of target.sagemaker or target.http must be set",
                )
            ]
        }
    )

    sagemaker: SageMakerTarget | None = Field(
        default=None, description="A SageMaker real-time endpoint."
    )
    http: HttpTarget | None = Field(default=None, description="A plain HTTP endpoint.")

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        if (self.sagemaker is None) == (self.http is None):
            raise ValueError("exactly one of target.sagemaker or target.http must be set")
        return self

    @property
    def stream(self) -> StreamSettings | None:
        """The stream settings of whichever target is set (None: not streamed)."""
        chosen = self.sagemaker if self.sagemaker is not None else self.http
        return chosen.stream if chosen is not None else None

    def describe(self) -> str:
        """A short name for progress output and status."""
        if self.sagemaker is not None:
            return self.sagemaker.endpoint_name
        assert self.http is not None
        return self.http.url
