"""Bounded error names and samples: what an endpoint answers cannot grow the status,
the metrics' labels or Locust's error table, nor carry the request back into them."""

from __future__ import annotations

from botocore.exceptions import ClientError

from endpoint_loadtest.loadgen.error_names import (
    OTHER,
    SAMPLE_MAX_CHARS,
    NameLimiter,
    sanitize_detail,
    sanitize_name,
    sanitize_type,
    top_counts,
    top_errors_text,
)
from endpoint_loadtest.loadgen.errors import (
    ErrorSamples,
    RequestFailure,
    body_detail,
    classify_boto_error,
    classify_http_status,
)
from endpoint_loadtest.loadgen.phases import MEASURE, WARMUP
from endpoint_loadtest.loadgen.sigv4_client import classify_aws_error


def test_names_are_cut_to_a_safe_alphabet_and_length() -> None:
    assert sanitize_type("ValidationError") == "ValidationError"
    assert sanitize_type('Bad"Code}\n{evil="1"') == "BadCodeevil1"
    assert sanitize_type("x" * 500) == "x" * 64
    assert sanitize_type("<<>>") == "UnknownError"
    assert sanitize_name("ModelError (HTTP 424)") == "ModelError (HTTP 424)"
    assert sanitize_name("we ird (HTTP 400)") == "weird (HTTP 400)"
    assert sanitize_name("Timeout") == "Timeout"


def test_a_process_admits_a_bounded_number_of_names() -> None:
    limiter = NameLimiter(limit=3)
    names = [limiter.admit(f"E{i}") for i in range(6)]
    assert names == ["E0", "E1", "E2", OTHER, OTHER, OTHER]
    assert limiter.admit("E1") == "E1"  # an admitted name stays itself


def test_reports_keep_the_top_errors_and_count_the_rest_as_other() -> None:
    counts = {f"E{i:02d}": 100 - i for i in range(15)}
    top = top_counts(counts, keep=10)
    assert len(top) == 10
    assert list(top)[:9] == [f"E{i:02d}" for i in range(9)]
    assert top[OTHER] == sum(100 - i for i in range(9, 15))
    assert sum(top.values()) == sum(counts.values())  # nothing lost, only grouped
    assert top_counts({"a": 1, "b": 2}) == {"a": 1, "b": 2}
    # an `other` already there (from the workers' limiter) is folded in, not duplicated
    with_other = top_counts({**counts, OTHER: 1000}, keep=3)
    assert set(with_other) == {"E00", "E01", OTHER}
    assert sum(with_other.values()) == sum(counts.values()) + 1000


def test_samples_are_one_line_bounded_and_do_not_echo_the_request() -> None:
    body = '{"inputs": "my private prompt"}'
    text = (
        f'Received client error (400) from primary with message "bad input {body}".\n'
        "key AKIAIOSFODNN7EXAMPLE token " + "Ab3" * 20
    )
    sample = sanitize_detail(text, [body, "my private prompt", "short"])
    assert "\n" not in sample and "private" not in sample
    assert "[request]" in sample and "AKIA" not in sample and "Ab3Ab3" not in sample
    assert len(sanitize_detail("word " * 200)) == SAMPLE_MAX_CHARS
    assert sanitize_detail("short words stay", ["short"]) == "short words stay"


def test_one_sample_per_failure_of_the_measured_phase() -> None:
    samples = ErrorSamples()
    samples.forbid(['{"inputs": "do not repeat me"}', "do not repeat me"])
    samples.record(WARMUP, RequestFailure("ModelError (HTTP 424)", "from the warmup"))
    samples.record(MEASURE, RequestFailure("ModelError (HTTP 424)", "first: do not repeat me"))
    samples.record(MEASURE, RequestFailure("ModelError (HTTP 424)", "second"))
    samples.record(MEASURE, RequestFailure("Timeout"))  # no message, no sample
    assert samples.to_message() == {"ModelError (HTTP 424)": "first: [request]"}


def test_failures_carry_the_endpoints_message_beside_the_name() -> None:
    error = ClientError(
        {
            "Error": {"Code": "ValidationError", "Message": "Endpoint x of account 1 not found."},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        "InvokeEndpoint",
    )
    failure = classify_boto_error(error)
    assert (failure.name, failure.detail) == (
        "ValidationError (HTTP 400)",
        "Endpoint x of account 1 not found.",
    )
    assert repr(failure) == str(failure) == "ValidationError (HTTP 400)"  # Locust's key
    fast = classify_aws_error(
        400,
        "ValidationError:http://internal.amazon.com/coral/com.amazon.sagemaker/",
        b'{"message":"Endpoint y of account 1 not found."}',
    )
    assert (fast.name, fast.detail) == (
        "ValidationError (HTTP 400)",
        "Endpoint y of account 1 not found.",
    )
    assert classify_http_status(503, b"overloaded").detail == "overloaded"
    assert body_detail(b'{"Message": "M"}') == "M" and body_detail(b"") is None


def test_verdict_text_names_the_top_errors() -> None:
    text = top_errors_text({"A": 1, "B": 5, "C": 3, "D": 2}, {"B": "bee"})
    assert text == 'B x5 ("bee"), C x3, D x2'


def test_verdict_samples_are_shorter_so_the_message_fits_an_event() -> None:
    samples = {f"E{i}": "m" * 200 for i in range(3)}
    text = top_errors_text({f"E{i}": 10 for i in range(3)}, samples)
    assert text.count("m" * 117 + "...") == 3 and len(text) < 450


def test_locust_sees_at_most_the_admitted_names(monkeypatch) -> None:
    from endpoint_loadtest.loadgen import errors

    monkeypatch.setattr(errors, "LIMITER", NameLimiter(limit=2))
    names = [classify_aws_error(400, f"Code{i}:ns/", b"{}").name for i in range(4)]
    assert names == [
        "Code0 (HTTP 400)",
        "Code1 (HTTP 400)",
        "other (HTTP 400)",  # the status class stays known
        "other (HTTP 400)",
    ]
    assert classify_aws_error(500, 'x"y{z}:ns/', b"").name == "other (HTTP 500)"


def test_secrets_go_but_the_log_group_of_a_model_error_stays() -> None:
    text = (
        'Received client error (400) from primary with message "bad". See https://us-east-1.'
        "console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:group=/aws/"
        "sagemaker/Endpoints/my-endpoint in account 123456789012 for more information."
    )
    assert "[redacted]" not in sanitize_detail(text)
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # the documentation's example key
    assert sanitize_detail(f"signature with {secret} failed") == "signature with [redacted] failed"
    hex_signature = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    assert hex_signature not in sanitize_detail(f"Signature {hex_signature} mismatch")
