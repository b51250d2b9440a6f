"""The run token and the signature of a run's result, shared by the master and its readers.

Whoever can reach a Locust master must not be able to decide a verdict. Every run has
a token (a random secret the runtime makes and hands to the master as a file); the
master refuses any request without it, and signs its result with it, so a reader that
holds the token (the operator, `elt run`) judges only figures that run's master wrote.
Pure functions: no I/O beyond reading the token file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path
from typing import Any

TOKEN_FILE_ENV = "ELT_TOKEN_FILE"  # where a Locust process finds its run's token
TOKEN_KEY = "token"  # the key of the token in the run's Secret (and its file name)
SIGNATURE_ALGORITHM = "HMAC-SHA256"
MIN_TOKEN_LENGTH = 32


class SignatureError(ValueError):
    """A result that is not signed by the run's token: never judged."""


def new_token() -> str:
    """A fresh random token (256 bits), for a runtime that can keep it (`elt run`)."""
    return secrets.token_urlsafe(32)


def read_token(path: str | Path) -> str:
    """The token in a file (a mounted Secret, or a file of the run's folder)."""
    token = Path(path).read_text().strip()
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"{path}: the run token is missing or shorter than {MIN_TOKEN_LENGTH}")
    return token


def tokens_equal(given: str | None, expected: str) -> bool:
    """Constant-time comparison: the time taken says nothing about the token."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def canonical_json(value: Any) -> bytes:
    """One byte string for one value: sorted keys, no spaces, UTF-8.

    Floats are written by Python's repr (the shortest form that reads back the same),
    so the master's figures and the reader's parse of them encode identically."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _message(run_id: str, figures: dict[str, Any]) -> bytes:
    return b"elt-result-v1\n" + run_id.encode() + b"\n" + canonical_json(figures)


def sign(token: str, run_id: str, figures: dict[str, Any]) -> str:
    """The hex HMAC-SHA256, keyed by the run token, of the run id and the figures."""
    return hmac.new(token.encode(), _message(run_id, figures), hashlib.sha256).hexdigest()


def verify(
    token: str, expected_run_id: str, run_id: str, figures: dict[str, Any], signature: str
) -> None:
    """Raise SignatureError unless `signature` is this run's master's, over these figures."""
    if not tokens_equal(run_id, expected_run_id):
        raise SignatureError(f"the result is of run {run_id!r}, not of this run")
    wanted = sign(token, run_id, figures)
    if not hmac.compare_digest(wanted, signature or ""):
        raise SignatureError("the result's signature does not match the run's token")
