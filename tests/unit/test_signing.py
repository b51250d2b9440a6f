"""The run token and the result's signature: what verifies, and what does not."""

from __future__ import annotations

import json

import pytest

from endpoint_loadtest.engine import signing

TOKEN = signing.new_token()
FIGURES = {"requests": 1200, "tps": 40.123456789, "latencyMs": {"p99": 12.5}, "name": "é"}


def test_a_signed_result_verifies_after_a_trip_through_json() -> None:
    signature = signing.sign(TOKEN, "run1", FIGURES)
    wire = json.loads(json.dumps({"figures": FIGURES}))  # as the reader parses it
    signing.verify(TOKEN, "run1", "run1", wire["figures"], signature)


@pytest.mark.parametrize(
    ("token", "run_id", "figures", "needle"),
    [
        ("another-token-" + "x" * 40, "run1", FIGURES, "signature does not match"),
        (TOKEN, "run2", FIGURES, "not of this run"),
        (TOKEN, "run1", {**FIGURES, "requests": 1201}, "signature does not match"),
        (TOKEN, "run1", {**FIGURES, "extra": True}, "signature does not match"),
    ],
)
def test_another_token_run_or_figure_does_not_verify(token, run_id, figures, needle) -> None:
    signature = signing.sign(TOKEN, "run1", FIGURES)
    with pytest.raises(signing.SignatureError, match=needle):
        signing.verify(token, "run1", run_id, figures, signature)


def test_key_order_does_not_change_the_signature() -> None:
    reordered = dict(reversed(list(FIGURES.items())))
    assert signing.sign(TOKEN, "r", reordered) == signing.sign(TOKEN, "r", FIGURES)


def test_bearer_header_parsing_and_constant_time_comparison() -> None:
    assert signing.bearer(f"Bearer {TOKEN}") == TOKEN
    assert signing.bearer(f"bearer  {TOKEN} ") == TOKEN
    assert signing.bearer(f"Basic {TOKEN}") is None
    assert signing.bearer(None) is None and signing.bearer("Bearer ") is None
    assert signing.tokens_equal(TOKEN, TOKEN)
    assert not signing.tokens_equal(None, TOKEN) and not signing.tokens_equal(TOKEN[:-1], TOKEN)


def test_a_short_or_missing_token_file_is_refused(tmp_path) -> None:
    short = tmp_path / "token"
    short.write_text("abc\n")
    with pytest.raises(ValueError, match="shorter than 32"):
        signing.read_token(short)
    short.write_text(TOKEN + "\n")
    assert signing.read_token(short) == TOKEN
