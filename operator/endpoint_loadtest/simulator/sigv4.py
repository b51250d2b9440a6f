"""Server-side AWS Signature Version 4 verification, as AWS front ends do it.

The canonical request is rebuilt from what arrived on the wire: the headers named in
SignedHeaders (not botocore's choice of headers, so any correct client passes), the path
URI-encoded once more (non-S3 services double-encode, as botocore's SigV4Auth does), the
query canonicalised per the spec, and the SHA-256 of the body actually received (so
a tampered body or an `UNSIGNED-PAYLOAD` claim fails like on AWS, which requires signed
payloads outside S3). tests/simulator/test_sigv4.py checks it against botocore's signer.
Signing keys are cached per (secret, date, region, service): a request costs two HMACs.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

from botocore.utils import normalize_url_path

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_SECONDS = 300  # AWS accepts requests signed up to 5 minutes off its clock

MSG_BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


class AuthError(Exception):
    """An authentication failure, with AWS's error code and message (HTTP 403)."""

    status = 403

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _iso_basic(epoch: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def canonical_query(raw_query: str) -> str:
    """Decode then re-encode every name and value (RFC 3986 unreserved kept), sort by name."""
    if not raw_query:
        return ""
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_uri(raw_path: str) -> str:
    """The path as received (already encoded once) normalised and encoded again."""
    return quote(normalize_url_path(raw_path), safe="/~")


class SigV4Verifier:
    """Checks `Authorization: AWS4-HMAC-SHA256 ...` headers against known credentials.

    credentials: access key id -> secret access key. region None accepts any region in
    the credential scope (otherwise it must match, as on AWS where each region's
    front end only accepts its own).
    """

    def __init__(
        self,
        credentials: Mapping[str, str],
        *,
        service: str = "sagemaker",
        region: str | None = None,
        max_skew_s: float = MAX_SKEW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = dict(credentials)
        self._service = service
        self._region = region
        self._max_skew = max_skew_s
        self._clock = clock
        self._keys: dict[tuple[str, str, str], bytes] = {}

    def _signing_key(self, secret: str, date: str, region: str) -> bytes:
        cache_key = (secret, date, region)
        key = self._keys.get(cache_key)
        if key is None:
            if len(self._keys) > 64:
                self._keys.clear()
            k = _hmac(f"AWS4{secret}".encode(), date)
            k = _hmac(k, region)
            k = _hmac(k, self._service)
            key = self._keys[cache_key] = _hmac(k, "aws4_request")
        return key

    def verify(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Mapping[str, str],
        get_all: Callable[[str], Iterable[str]],
        body: bytes,
    ) -> str:
        """Return the caller's access key id, or raise AuthError as AWS would.

        headers: case-insensitive mapping; get_all(name) returns every value of a header.
        """
        authorization = headers.get("Authorization")
        if not authorization:
            raise AuthError("MissingAuthenticationTokenException", "Missing Authentication Token")
        algorithm, _, rest = authorization.strip().partition(" ")
        if algorithm != ALGORITHM:
            raise AuthError(
                "IncompleteSignatureException",
                f"Unsupported AWS 'algorithm': '{algorithm}'",
            )
        params: dict[str, str] = {}
        for part in rest.split(","):
            key, sep, value = part.strip().partition("=")
            if sep:
                params[key.strip()] = value.strip()
        missing = [p for p in ("Credential", "SignedHeaders", "Signature") if p not in params]
        if missing:
            text = " ".join(f"Authorization header requires '{p}' parameter." for p in missing)
            raise AuthError("IncompleteSignatureException", text)
        scope = params["Credential"].split("/")
        if len(scope) != 5:
            raise AuthError(
                "IncompleteSignatureException",
                "Credential should have at least 5 slash-separated parts: "
                "ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request",
            )
        access_key, scope_date, scope_region, scope_service, terminator = scope
        secret = self._credentials.get(access_key)
        if secret is None:
            raise AuthError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        if terminator != "aws4_request":
            raise AuthError(
                "InvalidSignatureException",
                f"Credential should be scoped with a valid terminator: 'aws4_request', "
                f"not '{terminator}'.",
            )
        if scope_service != self._service:
            raise AuthError(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{self._service}'. ",
            )
        if self._region is not None and scope_region != self._region:
            raise AuthError(
                "InvalidSignatureException", "Credential should be scoped to a valid region. "
            )
        amz_date = self._request_date(headers)
        if scope_date != amz_date[:8]:
            raise AuthError(
                "InvalidSignatureException",
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{scope_date}' != '{amz_date[:8]}', from '{amz_date}'.",
            )
        self._check_skew(amz_date)
        signed_headers = params["SignedHeaders"]
        names = signed_headers.split(";")
        if "host" not in names:
            raise AuthError(
                "InvalidSignatureException",
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            )
        canonical_headers = "".join(
            f"{name}:{','.join(' '.join(v.split()) for v in get_all(name))}\n" for name in names
        )
        canonical_request = "\n".join(
            (
                method.upper(),
                canonical_uri(raw_path),
                canonical_query(raw_query),
                canonical_headers,
                signed_headers,
                hashlib.sha256(body).hexdigest(),
            )
        )
        string_to_sign = "\n".join(
            (
                ALGORITHM,
                amz_date,
                f"{scope_date}/{scope_region}/{scope_service}/aws4_request",
                hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
            )
        )
        key = self._signing_key(secret, scope_date, scope_region)
        expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, params["Signature"]):
            raise AuthError("InvalidSignatureException", MSG_BAD_SIGNATURE)
        return access_key

    @staticmethod
    def _request_date(headers: Mapping[str, str]) -> str:
        amz_date = headers.get("X-Amz-Date")
        if amz_date:
            try:
                time.strptime(amz_date, "%Y%m%dT%H%M%SZ")
            except ValueError:
                raise AuthError(
                    "IncompleteSignatureException",
                    f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'.",
                ) from None
            return amz_date
        http_date = headers.get("Date")
        if http_date:
            try:
                parsed = parsedate_to_datetime(http_date)
            except (TypeError, ValueError):
                parsed = None
            if parsed is not None:
                return _iso_basic(calendar.timegm(parsed.utctimetuple()))
        raise AuthError(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )

    def _check_skew(self, amz_date: str) -> None:
        signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        now = self._clock()
        if signed_at < now - self._max_skew:
            raise AuthError(
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than "
                f"{_iso_basic(now - self._max_skew)} ({_iso_basic(now)} - 5 min.)",
            )
        if signed_at > now + self._max_skew:
            raise AuthError(
                "InvalidSignatureException",
                f"Signature not yet current: {amz_date} is still later than "
                f"{_iso_basic(now + self._max_skew)} ({_iso_basic(now)} + 5 min.)",
            )
