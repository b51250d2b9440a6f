"""A SigV4-signed InvokeEndpoint over geventhttpclient: boto3's request at raw-HTTP cost.

boto3 spends about 450 us of CPU per invoke_endpoint call, most of it rebuilding the
same request. Here botocore builds the request once (a *template*: its URL from the
normal endpoint resolution, its headers, the names it signs), and each call only
fills in what changes:

- X-Amz-Date: formatted once per second;
- Authorization: the signing key is derived once per (secret, day, region, service);
  the payload hash once per body; the canonical request is a precomputed prefix and
  suffix around the date; the signature is deterministic for (body, second), so it is
  computed at most once per body per second and reused by every call in that second;
- amz-sdk-invocation-id: a fresh UUID per call, as botocore sends it.

The headers are those boto3 sends for the same call apart from the date, the signature
and the invocation id (tests/perf compare them with the request botocore prepares, and
verify the signature with botocore's own signer and with the simulator's verifier).
Credentials come from botocore's provider chain (environment, web identity for IRSA,
instance profile ...); refreshable credentials are re-read at most once a second, and
botocore refreshes them before they expire.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.utils import normalize_url_path

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "sagemaker"  # the signing name of sagemaker-runtime
# Headers botocore adds per attempt or computes while signing: never copied from the template.
PER_REQUEST = frozenset(
    {"x-amz-date", "authorization", "x-amz-security-token", "amz-sdk-invocation-id"}
)
NOT_SENT = frozenset({"content-length", "host"})  # the HTTP client sets these


class _Captured(Exception):
    """Raised from botocore's before-send hook: the template was prepared, do not send it."""

    def __init__(self, request: Any) -> None:
        super().__init__("captured")
        self.request = request


@dataclass(frozen=True)
class RequestTemplate:
    """What botocore would send for one invoke_endpoint call, minus the per-call parts."""

    method: str
    url: str
    headers: dict[str, str]  # in botocore's order, without PER_REQUEST and NOT_SENT
    signed_headers: list[str]  # lower-case names botocore signed, sorted

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def path(self) -> str:
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


def capture_request(client: Any, operation: str = "InvokeEndpoint", **invoke_kwargs: Any) -> Any:
    """The AWSPreparedRequest botocore builds for the operation (InvokeEndpoint, or
    InvokeEndpointWithResponseStream) with invoke_kwargs, unsent."""
    from botocore import xform_name

    def capture(request: Any, **_: Any) -> None:
        raise _Captured(request)

    event = f"before-send.sagemaker-runtime.{operation}"
    client.meta.events.register_first(event, capture)
    try:
        getattr(client, xform_name(operation))(**invoke_kwargs)
    except _Captured as captured:
        return captured.request
    finally:
        client.meta.events.unregister(event, capture)
    raise RuntimeError(f"botocore sent {operation} without passing before-send")


def _header_text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def template_from_botocore(
    client: Any, invoke_kwargs: Mapping[str, Any], operation: str = "InvokeEndpoint"
) -> RequestTemplate:
    """The template of the operation's call with invoke_kwargs as botocore prepares it."""
    request = capture_request(client, operation, Body=b"", **invoke_kwargs)
    headers = {k: _header_text(v) for k, v in request.headers.items()}
    authorization = headers.get("Authorization", "")
    signed = next(
        (
            p.strip()[len("SignedHeaders=") :]
            for p in authorization.split(",")
            if "SignedHeaders=" in p
        ),
        "",
    )
    if not signed:
        raise RuntimeError("botocore did not sign the template request (no credentials?)")
    kept = {k: v for k, v in headers.items() if k.lower() not in PER_REQUEST | NOT_SENT}
    names = [n for n in signed.split(";") if n != "x-amz-security-token"]
    return RequestTemplate(
        method=request.method, url=request.url, headers=kept, signed_headers=sorted(names)
    )


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str = SERVICE) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class FastSigner:
    """Per-call SigV4 headers for one request template, with everything else precomputed.

    credentials: botocore Credentials (refreshable or not); clock: epoch seconds.
    """

    CREDENTIALS_CHECK_SECONDS = 1.0

    def __init__(
        self,
        template: RequestTemplate,
        credentials: Any,
        region: str,
        *,
        service: str = SERVICE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.template = template
        self.region = region
        self.service = service
        self._credentials = credentials
        self._clock = clock
        path = urlsplit(template.url).path or "/"
        query = urlsplit(template.url).query
        # Non-S3 services encode the (already encoded) path once more, like SigV4Auth.
        self._canonical_uri = quote(normalize_url_path(path), safe="/~")
        self._canonical_query = _canonical_query(query)
        lower = {k.lower(): " ".join(v.split()) for k, v in template.headers.items()}
        lower["host"] = template.host
        self._static = lower
        self._second = -1
        self._amz_date = ""
        self._scope_date = ""
        self._frozen: Any = None
        self._frozen_at = -1e18
        self._key_id: tuple[str, str] | None = None
        self._key = b""
        self._signatures: dict[str, str] = {}
        self._base_headers: dict[str, str] = {}
        self._prefix = ""
        self._suffix = ""
        self._signed_names = ""

    # ------------------------------------------------------------------ per second

    def _roll(self, second: int) -> None:
        self._second = second
        self._amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
        self._scope_date = self._amz_date[:8]
        self._signatures.clear()
        now = time.monotonic()
        if self._frozen is None or now - self._frozen_at >= self.CREDENTIALS_CHECK_SECONDS:
            # botocore refreshes refreshable credentials here when they are about to expire.
            frozen = self._credentials.get_frozen_credentials()
            self._frozen_at = now
            if frozen != self._frozen:
                self._frozen = frozen
                self._rebuild()
        key_id = (self._frozen.secret_key, self._scope_date)
        if key_id != self._key_id:
            self._key_id = key_id
            self._key = signing_key(
                self._frozen.secret_key, self._scope_date, self.region, self.service
            )

    def _rebuild(self) -> None:
        """Header order and canonical pieces for the current credentials (token or not)."""
        token = self._frozen.token
        names = list(self.template.signed_headers)
        values = dict(self._static)
        if token:
            names.append("x-amz-security-token")
            values["x-amz-security-token"] = token
        names = sorted(set(names) | {"x-amz-date"})
        before = names[: names.index("x-amz-date")]
        after = names[names.index("x-amz-date") + 1 :]
        self._prefix = "".join(f"{n}:{values[n]}\n" for n in before)
        self._suffix = "".join(f"{n}:{values[n]}\n" for n in after)
        self._signed_names = ";".join(names)
        # Header order as botocore sends them: template headers, then date, token,
        # authorization and the invocation id (placeholders here, filled per call).
        base: dict[str, str] = {"Host": self.template.host}
        sdk = {}
        for name, value in self.template.headers.items():
            if name.lower().startswith("amz-sdk-"):
                sdk[name] = value
            else:
                base[name] = value
        base["X-Amz-Date"] = ""
        if token:
            base["X-Amz-Security-Token"] = token
        base["Authorization"] = ""
        base["amz-sdk-invocation-id"] = ""
        base.update(sdk)
        self._base_headers = base

    # ------------------------------------------------------------------ per call

    def signature(self, body_hash: str) -> str:
        """The Authorization header value for this body in the current second."""
        canonical = (
            f"{self.template.method}\n{self._canonical_uri}\n{self._canonical_query}\n"
            f"{self._prefix}x-amz-date:{self._amz_date}\n{self._suffix}\n"
            f"{self._signed_names}\n{body_hash}"
        )
        scope = f"{self._scope_date}/{self.region}/{self.service}/aws4_request"
        string_to_sign = (
            f"{ALGORITHM}\n{self._amz_date}\n{scope}\n"
            f"{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
        )
        signature = hmac.new(self._key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        return (
            f"{ALGORITHM} Credential={self._frozen.access_key}/{scope}, "
            f"SignedHeaders={self._signed_names}, Signature={signature}"
        )

    def headers(self, body_hash: str) -> dict[str, str]:
        """All headers of one call (Host included; Content-Length is the client's)."""
        second = int(self._clock())
        if second != self._second:
            self._roll(second)
        authorization = self._signatures.get(body_hash)
        if authorization is None:
            authorization = self._signatures[body_hash] = self.signature(body_hash)
        headers = self._base_headers.copy()
        headers["X-Amz-Date"] = self._amz_date
        headers["Authorization"] = authorization
        headers["amz-sdk-invocation-id"] = str(uuid.uuid4())
        return headers


def _canonical_query(raw_query: str) -> str:
    if not raw_query:
        return ""
    pairs = []
    for part in raw_query.split("&"):
        key, _, value = part.partition("=")
        pairs.append((quote(key, safe="-_.~"), quote(value, safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def invoke_kwargs_for(target: Mapping[str, Any]) -> dict[str, str]:
    """invoke_endpoint's parameters (apart from Body) for a plan's sagemaker target."""
    optional = {
        "Accept": target.get("accept"),
        "CustomAttributes": target.get("customAttributes"),
        "TargetModel": target.get("targetModel"),
        "TargetVariant": target.get("variantName"),
        "InferenceComponentName": target.get("inferenceComponentName"),
    }
    return {
        "EndpointName": target["endpointName"],
        "ContentType": target.get("contentType", "application/json"),
        **{k: v for k, v in optional.items() if v},
    }


def botocore_client(region: str, timeout: float = 70.0, max_pool: int = 10) -> Any:
    """A sagemaker-runtime client as AWS's load-testing practice makes it: retries off."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sagemaker-runtime",
        region_name=region,
        config=Config(
            retries={"max_attempts": 0},
            connect_timeout=min(10.0, timeout),
            read_timeout=timeout,
            max_pool_connections=max(10, max_pool),
            tcp_keepalive=True,
        ),
    )


def client_credentials(client: Any) -> Any:
    """The credentials object a botocore client signs with (refreshed by botocore)."""
    credentials = client._request_signer._credentials
    if credentials is None:
        from botocore.exceptions import NoCredentialsError

        raise NoCredentialsError()
    return credentials


def classify_aws_error(status: int, error_type: str | None, body: bytes) -> Any:
    """A failed response named as botocore would: `Code (HTTP status)`.

    The code is the x-amzn-ErrorType header's part before ':', else the body's
    `__type` or `code` (after any '#'), else HTTPError.
    """
    import json

    from endpoint_loadtest.loadgen.errors import RequestFailure, body_detail, failure_name

    code = (error_type or "").split(":", 1)[0].strip()
    if not code:
        try:
            parsed = json.loads(body or b"{}")
        except ValueError:
            parsed = {}
        raw = parsed.get("__type") or parsed.get("code") or "" if isinstance(parsed, dict) else ""
        code = str(raw).rsplit("#", 1)[-1]
    return RequestFailure(failure_name(code or "HTTPError", status), body_detail(body))
