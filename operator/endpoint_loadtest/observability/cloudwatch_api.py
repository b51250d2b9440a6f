"""The CloudWatch API side of the scraper: the client, GetMetricData, and its errors.

The client is boto3's `cloudwatch` in the target's region with the identity of the
process (the pod's ServiceAccount, IRSA on EKS); `AWS_ENDPOINT_URL_CLOUDWATCH` points it
elsewhere. One boto3 Session serves every region's client, cached per region and
endpoint. Nothing from here may fail a test, so `classify` turns every boto3/botocore
exception into a `Problem` whose code and message end up in the `CloudWatchAvailable`
condition.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
THROTTLED = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests"}
BAD_CREDENTIALS = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
}


@dataclass(frozen=True)
class Problem:
    """Why CloudWatch figures are missing: a CamelCase code and a sentence."""

    code: str
    message: str
    retryable: bool = False


def classify(error: BaseException) -> Problem:
    """A boto3/botocore exception as a Problem (never raised further)."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ReadTimeoutError,
    )

    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code") or "ClientError")
        text = str(info.get("Message") or error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        embedded = re.search(r"<Code>([^<]+)</Code>(?:.*?<Message>([^<]*)</Message>)?", text, re.S)
        if embedded and (code.isdigit() or code == "ClientError"):
            # A query-protocol (XML) error body where botocore expected JSON: a stand-in
            # or proxy answering in the older format. The code is in the XML.
            code, text = embedded.group(1), embedded.group(2) or text
        if code.isdigit() and status == 403:
            code = "AccessDenied"
        text = _brief(text)
        if code in ACCESS_DENIED:
            return Problem(
                "AccessDenied",
                "CloudWatch denied GetMetricData: the identity this runs with (the pod's "
                f"ServiceAccount role) needs cloudwatch:GetMetricData ({code}: {text})",
            )
        if code in THROTTLED:
            return Problem(
                "Throttled", f"CloudWatch throttled GetMetricData ({code}: {text})", True
            )
        if code in BAD_CREDENTIALS:
            return Problem("InvalidCredentials", f"CloudWatch rejected the credentials ({code})")
        return Problem("CloudWatchError", f"GetMetricData failed ({code}: {text})", status >= 500)
    if isinstance(error, NoCredentialsError):
        return Problem("NoCredentials", "no AWS credentials to call CloudWatch with")
    if isinstance(error, NoRegionError):
        return Problem("NoRegion", "no AWS region for CloudWatch")
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return Problem("Unreachable", f"CloudWatch did not answer ({error})", True)
    return Problem("CloudWatchError", f"{type(error).__name__}: {error}", True)


def _brief(text: str, limit: int = 200) -> str:
    """An error message fit for a condition: no markup, one line, bounded."""
    plain = " ".join(re.sub(r"<[^>]+>", " ", text).split())
    return plain if len(plain) <= limit else plain[: limit - 3] + "..."


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()
_session: Any = None


def _shared_session() -> Any:
    """The process's one boto3 Session (caller holds _clients_lock): its credential chain
    and loaded service models are shared by every region's client, not built per region."""
    global _session
    if _session is None:
        import boto3

        _session = boto3.session.Session()
    return _session


def cloudwatch_client(region: str) -> Any:
    """A cached boto3 CloudWatch client: the process's identity, the standard endpoint
    variables (AWS_ENDPOINT_URL_CLOUDWATCH), three attempts with standard back-off.
    One client per region and endpoint, all from one Session."""
    key = "|".join(
        [
            region,
            os.environ.get("AWS_ENDPOINT_URL_CLOUDWATCH", ""),
            os.environ.get("AWS_ENDPOINT_URL", ""),
        ]
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            from botocore.config import Config

            client = _shared_session().client(
                "cloudwatch",
                region_name=region,
                config=Config(
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=5,
                    read_timeout=15,
                ),
            )
            _clients[key] = client
        return client


def get_metric_data(
    client: Any, queries: list[dict[str, Any]], start: float, end: float
) -> dict[str, dict[str, Any]]:
    """Every page of one GetMetricData, by query id: {"timestamps", "values", "status"}."""
    out: dict[str, dict[str, Any]] = {}
    request: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": datetime.fromtimestamp(start, tz=UTC),
        "EndTime": datetime.fromtimestamp(end, tz=UTC),
        "ScanBy": "TimestampAscending",
    }
    while True:
        response = client.get_metric_data(**request)
        for entry in response.get("MetricDataResults", []):
            slot = out.setdefault(
                entry["Id"], {"timestamps": [], "values": [], "status": "Complete"}
            )
            slot["timestamps"].extend(entry.get("Timestamps", []))
            slot["values"].extend(entry.get("Values", []))
            if entry.get("StatusCode", "Complete") != "PartialData":
                slot["status"] = entry.get("StatusCode", "Complete")
        token = response.get("NextToken")
        if not token:
            return out
        request["NextToken"] = token
