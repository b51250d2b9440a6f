"""Where the checkout, its bin/ and the pinned versions are; one place for path logic."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("LOCALCLUSTER_BIN", REPO_ROOT / "bin"))
VERSIONS_FILE = REPO_ROOT / "hack" / "versions.env"
#: Env var set in every process the cluster starts, so a sweep can find leftovers.
MARKER_ENV = "LOCALCLUSTER_ID"


def versions() -> dict[str, str]:
    """The tool versions pinned in hack/versions.env."""
    out: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def binary(name: str) -> Path:
    """Path of a cluster tool in bin/, with a hint to build it when it is missing."""
    path = BIN_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make cluster-tools` first")
    return path
