"""The SigV4 verifier against botocore's own signer (no server needed)."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from multidict import CIMultiDict

from endpoint_loadtest.simulator.sigv4 import AuthError, SigV4Verifier

KEY, SECRET, REGION = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1"
URL = "http://127.0.0.1:8080/endpoints/my-endpoint/invocations"
BODY = b'{"inputs": "I am super happy right now."}'


def sign(
    url: str = URL,
    body: bytes = BODY,
    headers: dict[str, str] | None = None,
    secret: str = SECRET,
    region: str = REGION,
    service: str = "sagemaker",
) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    SigV4Auth(Credentials(KEY, secret), service, region).add_auth(request)
    return request


def verify(request: AWSRequest, body: bytes | None = None, verifier=None, **changes) -> str:
    parts = urlsplit(request.url)
    headers = CIMultiDict(request.headers.items())
    headers.setdefault("Host", parts.netloc)
    for name, value in changes.items():
        headers[name.replace("_", "-")] = value
    verifier = verifier or SigV4Verifier({KEY: SECRET}, region=REGION)
    return verifier.verify(
        request.method,
        parts.path,
        parts.query,
        headers,
        lambda n: headers.getall(n, ()),
        (request.body or b"") if body is None else body,
    )


def auth_error(call) -> AuthError:
    with pytest.raises(AuthError) as info:
        call()
    return info.value


def code_of(call) -> str:
    return auth_error(call).code


def test_botocore_signed_request_is_accepted() -> None:
    assert verify(sign()) == KEY


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:9999/endpoints/a-b-c/invocations",
        "http://127.0.0.1:8080/endpoints/x/invocations?b=2&a=1&a=0",
        "http://127.0.0.1:8080/endpoints/x/invocations?q=a%20b%2Fc&empty=",
        "http://127.0.0.1:8080/endpoints/with%20space/invocations",
        "https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/e/invocations",
    ],
)
def test_paths_queries_and_hosts_canonicalise_like_botocore(url: str) -> None:
    assert verify(sign(url=url)) == KEY


def test_empty_body_and_extra_signed_headers() -> None:
    request = sign(
        body=b"",
        headers={
            "X-Amzn-SageMaker-Custom-Attributes": "a=1,  b=2",
            "X-Amz-Security-Token": "token",
        },
    )
    assert "x-amzn-sagemaker-custom-attributes" in request.headers["Authorization"]
    assert verify(request) == KEY


def test_date_header_instead_of_x_amz_date() -> None:
    request = sign(headers={"Date": "Mon, 01 Jan 2024 00:00:00 GMT"})
    assert "X-Amz-Date" not in request.headers
    stamp = parsedate_to_datetime(request.headers["Date"]).timestamp()
    verifier = SigV4Verifier({KEY: SECRET}, region=REGION, clock=lambda: stamp)
    assert verify(request, verifier=verifier) == KEY


def test_tampered_body_header_or_date_is_rejected() -> None:
    request = sign(headers={"X-Amzn-SageMaker-Custom-Attributes": "a=1"})
    assert code_of(lambda: verify(request, body=BODY + b" ")) == "InvalidSignatureException"
    assert (
        code_of(lambda: verify(request, X_Amzn_SageMaker_Custom_Attributes="a=2"))
        == "InvalidSignatureException"
    )
    later = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + 60))
    if later[:8] == request.headers["X-Amz-Date"][:8]:
        assert code_of(lambda: verify(request, X_Amz_Date=later)) == "InvalidSignatureException"
    assert code_of(lambda: verify(request, Content_Type="text/csv")) == "InvalidSignatureException"


def test_wrong_secret_unknown_key_and_missing_header() -> None:
    assert code_of(lambda: verify(sign(secret="wrong"))) == "InvalidSignatureException"
    verifier = SigV4Verifier({"OTHERKEY": SECRET}, region=REGION)
    assert code_of(lambda: verify(sign(), verifier=verifier)) == "UnrecognizedClientException"
    request = sign()
    del request.headers["Authorization"]
    assert code_of(lambda: verify(request)) == "MissingAuthenticationTokenException"


def test_malformed_authorization_is_incomplete() -> None:
    request = sign()
    del request.headers["Authorization"]
    request.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=x"
    with pytest.raises(AuthError) as info:
        verify(request)
    assert info.value.code == "IncompleteSignatureException"
    assert "'Signature'" in info.value.message


def test_scope_must_name_sagemaker_and_the_region() -> None:
    error = auth_error(lambda: verify(sign(service="s3")))
    assert error.code == "InvalidSignatureException" and "'sagemaker'" in error.message
    error = auth_error(lambda: verify(sign(region="eu-west-1")))
    assert error.code == "InvalidSignatureException" and "region" in error.message
    any_region = SigV4Verifier({KEY: SECRET}, region=None)
    assert verify(sign(region="eu-west-1"), verifier=any_region) == KEY


def test_clock_skew_beyond_five_minutes_is_rejected() -> None:
    request = sign()
    late = SigV4Verifier({KEY: SECRET}, region=REGION, clock=lambda: time.time() + 301)
    error = auth_error(lambda: verify(request, verifier=late))
    assert error.code == "InvalidSignatureException"
    assert error.message.startswith("Signature expired:")
    early = SigV4Verifier({KEY: SECRET}, region=REGION, clock=lambda: time.time() - 301)
    assert "not yet current" in auth_error(lambda: verify(request, verifier=early)).message
    fine = SigV4Verifier({KEY: SECRET}, region=REGION, clock=lambda: time.time() + 250)
    assert verify(request, verifier=fine) == KEY


def test_unsigned_payload_is_refused_outside_s3() -> None:
    request = AWSRequest(method="POST", url=URL, data=BODY)
    request.context["payload_signing_enabled"] = False
    request.url = URL.replace("http://", "https://")
    SigV4Auth(Credentials(KEY, SECRET), "sagemaker", REGION).add_auth(request)
    assert request.headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    assert code_of(lambda: verify(request)) == "InvalidSignatureException"
