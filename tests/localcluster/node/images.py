"""The image table (images.yaml): container image -> local command, PATH and env."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from localcluster.paths import IMAGES_FILE, REPO_ROOT


@dataclass(frozen=True)
class ImageRule:
    """One rule of the table; `path` already has {repo} substituted."""

    match: str
    tag: str = "*"
    path: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None


def normalize(image: str) -> tuple[str, str]:
    """(name, tag) the way docker reads a reference: docker.io/library/ added, digest dropped."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, tag = ref.rsplit(":", 1)
    else:
        tag = "latest"
    parts = ref.split("/")
    if len(parts) == 1:
        parts = ["docker.io", "library", *parts]
    elif not ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = ["docker.io", *parts]
    return "/".join(parts), tag


def _rule(raw: dict[str, Any]) -> ImageRule:
    repo = str(REPO_ROOT)
    return ImageRule(
        match=raw["match"],
        tag=raw.get("tag", "*"),
        path=[p.replace("{repo}", repo) for p in raw.get("path", [])],
        entrypoint=[str(a) for a in raw.get("entrypoint", [])],
        cmd=[str(a) for a in raw.get("cmd", [])],
        env={str(k): str(v) for k, v in (raw.get("env") or {}).items()},
        working_dir=raw.get("workingDir"),
    )


def load_table(path: Path = IMAGES_FILE) -> list[ImageRule]:
    """Read the table; a malformed file fails loudly at agent start."""
    data = yaml.safe_load(path.read_text()) or {}
    return [_rule(raw) for raw in data.get("images", [])]


def resolve(table: list[ImageRule], image: str) -> ImageRule | None:
    """The first rule that matches `image`, or None (the image cannot be 'pulled')."""
    name, tag = normalize(image)
    for rule in table:
        if fnmatch.fnmatchcase(name, rule.match) and fnmatch.fnmatchcase(tag, rule.tag):
            return rule
    return None


def argv_for(rule: ImageRule, container: dict[str, Any]) -> list[str]:
    """Kubernetes semantics: command replaces ENTRYPOINT, args replace CMD."""
    command = container.get("command")
    args = container.get("args")
    if command:
        return [*command, *(args or [])]
    return [*rule.entrypoint, *(args if args else rule.cmd)]
