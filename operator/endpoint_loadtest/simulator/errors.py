"""SageMaker Runtime's error responses, in the shapes botocore's rest-json parser reads.

botocore takes the error code from the `x-amzn-ErrorType` header (the part before ':'),
the message from the body's `message`/`Message`, and ModelError's modelled members
(OriginalStatusCode, OriginalMessage, LogStreamArn) from the body.
"""

from __future__ import annotations

import json

CORAL = "http://internal.amazon.com/coral/"
# code -> (HTTP status, coral namespace of the x-amzn-ErrorType header, default message)
ERRORS: dict[str, tuple[int, str, str]] = {
    "ValidationError": (400, "com.amazon.sagemaker/", "Inspect your request and try again."),
    "ThrottlingException": (400, "com.amazon.coral.availability/", "Rate exceeded"),
    "ModelError": (424, "com.amazon.sagemaker/", ""),
    "ModelNotReadyException": (
        429,
        "com.amazon.sagemaker/",
        "Model is not ready yet. Wait and try your request again.",
    ),
    "InternalFailure": (
        500,
        "com.amazon.sagemaker/",
        "An internal failure occurred. Try your request again.",
    ),
    "ServiceUnavailable": (
        503,
        "com.amazon.sagemaker/",
        "The service is unavailable. Try your call again.",
    ),
    "MissingAuthenticationTokenException": (
        403,
        "com.amazon.coral.service/",
        "Missing Authentication Token",
    ),
    "UnrecognizedClientException": (403, "com.amazon.coral.service/", ""),
    "InvalidSignatureException": (403, "com.amazon.coral.service/", ""),
    "IncompleteSignatureException": (403, "com.amazon.coral.service/", ""),
    "UnknownOperationException": (404, "com.amazon.coral.service/", ""),
}

TIMEOUT_MESSAGE = (
    "Your invocation timed out while waiting for a response from container {container}. "
    "Review the latency metrics for each container in Amazon CloudWatch, resolve the issue, "
    "and try again."
)
OVERLOAD_MESSAGE = "Model server is overloaded: the request queue is full. Try again later."


def status_of(code: str) -> int:
    return ERRORS[code][0]


def error_response(
    code: str, message: str | None = None, extra: dict[str, object] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of an AWS error with this code."""
    status, namespace, default = ERRORS[code]
    payload: dict[str, object] = {"message": default if message is None else message}
    if extra:
        payload.update(extra)
    headers = {"x-amzn-ErrorType": f"{code}:{CORAL}{namespace}", "Content-Type": "application/json"}
    return status, headers, json.dumps(payload, separators=(",", ":")).encode()


def model_error(
    *,
    original_status: int,
    original_message: str,
    endpoint: str,
    region: str,
    account_id: str,
    container: str = "primary",
) -> tuple[int, dict[str, str], bytes]:
    """ModelError 424: the container answered with an error (or not at all: status 0)."""
    kind = "client" if 400 <= original_status < 500 else "server"
    log_group = f"/aws/sagemaker/Endpoints/{endpoint}"
    message = (
        f"Received {kind} error ({original_status}) from {container} with message "
        f'"{original_message}". See https://{region}.console.aws.amazon.com/cloudwatch/home?'
        f"region={region}#logEventViewer:group={log_group} in account {account_id} "
        "for more information."
    )
    status, headers, _ = error_response("ModelError")
    body = {
        "ErrorCode": f"{kind.upper()}_ERROR_FROM_MODEL",
        "LogStreamArn": f"arn:aws:logs:{region}:{account_id}:log-group:{log_group}",
        "Message": message,
        "OriginalMessage": original_message,
        "OriginalStatusCode": original_status,
    }
    return status, headers, json.dumps(body, separators=(",", ":")).encode()
