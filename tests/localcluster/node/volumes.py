"""Pod volumes materialized as directories under the pod's data dir.

emptyDir, configMap, secret, downwardAPI, projected (serviceAccountToken,
configMap, secret, downwardAPI) and hostPath. The ServiceAccount admission plugin
adds a projected `kube-api-access-*` volume at /var/run/secrets/kubernetes.io/
serviceaccount; materializing it with a TokenRequest token is how a pod's processes
get their ServiceAccount's credentials. Files are written atomically (rename), so
the directory bind-mounted into the pod shows updates (token refresh).
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcluster.node.env import ConfigError, field_value

Lookup = Callable[[str, str], dict[str, Any] | None]
TokenFn = Callable[[dict[str, Any], dict[str, Any]], tuple[str, float]]


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _items(
    data: dict[str, bytes], items: list[dict[str, Any]] | None, default_mode: int
) -> dict[str, tuple[bytes, int]]:
    if not items:
        return {k: (v, default_mode) for k, v in data.items()}
    out = {}
    for item in items:
        if item["key"] in data:
            out[item["path"]] = (data[item["key"]], int(item.get("mode", default_mode)))
    return out


def _object_data(kind: str, ref: dict[str, Any], lookup: Lookup) -> dict[str, bytes] | None:
    obj = lookup(kind, ref["name"])
    if obj is None:
        if ref.get("optional"):
            return {}
        raise ConfigError(f'{kind[:-1]} "{ref["name"]}" not found')
    if kind == "secrets":
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return data


def _downward(pod: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, bytes]:
    out = {}
    for item in items:
        if "fieldRef" in item:
            out[item["path"]] = field_value(pod, item["fieldRef"]["fieldPath"]).encode()
    return out


class PodVolumes:
    """Every volume of one pod; `refresh()` renews tokens before they expire."""

    def __init__(self, pod: dict[str, Any], root: Path, lookup: Lookup, token: TokenFn) -> None:
        self.pod = pod
        self.root = root
        self.lookup = lookup
        self.token = token
        self.paths: dict[str, str] = {}
        self._refresh_at = float("inf")

    def setup(self) -> None:
        for volume in self.pod["spec"].get("volumes", []):
            self.paths[volume["name"]] = self._materialize(volume)

    def refresh(self) -> None:
        """Re-materialize token-carrying volumes once 80% of a token's life has passed."""
        if time.monotonic() < self._refresh_at:
            return
        self._refresh_at = float("inf")
        for volume in self.pod["spec"].get("volumes", []):
            if "projected" in volume:
                self._materialize(volume)

    def _materialize(self, volume: dict[str, Any]) -> str:
        name = volume["name"]
        if "hostPath" in volume:
            return volume["hostPath"]["path"]
        target = self.root / name
        target.mkdir(parents=True, exist_ok=True)
        files: dict[str, tuple[bytes, int]] = {}
        if "configMap" in volume or "secret" in volume:
            kind, key = (
                ("configmaps", "configMap") if "configMap" in volume else ("secrets", "secret")
            )
            spec = dict(volume[key])
            if kind == "secrets":
                spec["name"] = spec.get("secretName", "")
            mode = int(spec.get("defaultMode", 0o644))
            files = _items(_object_data(kind, spec, self.lookup) or {}, spec.get("items"), mode)
        elif "downwardAPI" in volume:
            spec = volume["downwardAPI"]
            mode = int(spec.get("defaultMode", 0o644))
            files = {k: (v, mode) for k, v in _downward(self.pod, spec.get("items", [])).items()}
        elif "projected" in volume:
            files = self._projected(volume["projected"])
        for rel, (data, mode) in files.items():
            _write(target / rel, data, mode)
        return str(target)

    def _projected(self, spec: dict[str, Any]) -> dict[str, tuple[bytes, int]]:
        mode = int(spec.get("defaultMode", 0o644))
        files: dict[str, tuple[bytes, int]] = {}
        for source in spec.get("sources", []):
            if "serviceAccountToken" in source:
                sat = source["serviceAccountToken"]
                token, lifetime = self.token(self.pod, sat)
                self._refresh_at = min(self._refresh_at, time.monotonic() + 0.8 * lifetime)
                files[sat["path"]] = (token.encode(), mode)
            elif "configMap" in source or "secret" in source:
                kind, key = (
                    ("configmaps", "configMap") if "configMap" in source else ("secrets", "secret")
                )
                data = _object_data(kind, source[key], self.lookup) or {}
                files.update(_items(data, source[key].get("items"), mode))
            elif "downwardAPI" in source:
                items = source["downwardAPI"].get("items", [])
                files.update({k: (v, mode) for k, v in _downward(self.pod, items).items()})
        return files

    def mounts(self, container: dict[str, Any]) -> list[dict[str, Any]]:
        """The sandbox's bind mounts for one container's volumeMounts."""
        out = []
        for vm in container.get("volumeMounts", []):
            src = self.paths.get(vm["name"])
            if src is None:
                raise ConfigError(f'volume "{vm["name"]}" not found')
            if vm.get("subPath"):
                src = os.path.join(src, vm["subPath"])
            out.append({"src": src, "dst": vm["mountPath"], "readOnly": bool(vm.get("readOnly"))})
        return out
