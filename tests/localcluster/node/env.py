"""A container's environment, as the kubelet builds it, and $(VAR) expansion."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Any

_EXPAND = re.compile(r"\$(\$|\(([^)]*)\))")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_FIELD_INDEX = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")
_SUFFIX = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}  # fmt: skip


class ConfigError(Exception):
    """The container cannot be configured (reported as CreateContainerConfigError)."""


def expand(text: str, mapping: Mapping[str, str]) -> str:
    """Kubernetes $(VAR) expansion: known names replaced, $$ escapes, unknown kept as is."""

    def sub(match: re.Match[str]) -> str:
        if match.group(1) == "$":
            return "$"
        name = match.group(2)
        return mapping[name] if name in mapping else match.group(0)

    return _EXPAND.sub(sub, text)


def parse_quantity(value: str) -> Decimal:
    """A resource quantity ("500m", "2Gi", "1e3") as a number."""
    for suffix in sorted(_SUFFIX, key=len, reverse=True):
        if value.endswith(suffix):
            return Decimal(value[: -len(suffix)]) * Decimal(_SUFFIX[suffix])
    return Decimal(value)


def field_value(pod: dict[str, Any], path: str) -> str:
    """A downward-API fieldRef value."""
    meta, spec, status = pod["metadata"], pod["spec"], pod.get("status", {})
    indexed = _FIELD_INDEX.match(path)
    if indexed:
        return (meta.get(indexed.group(1)) or {}).get(indexed.group(2), "")
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": status.get("hostIP", ""),
        "status.hostIPs": ",".join(i["ip"] for i in status.get("hostIPs", [])),
        "status.podIP": status.get("podIP", ""),
        "status.podIPs": ",".join(i["ip"] for i in status.get("podIPs", [])),
    }
    if path in ("metadata.labels", "metadata.annotations"):
        items = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    if path not in simple:
        raise ConfigError(f"unsupported fieldRef {path!r}")
    return simple[path]


def resource_value(
    container: dict[str, Any], ref: dict[str, Any], allocatable: Mapping[str, str]
) -> str:
    """A resourceFieldRef value; limits default to the node's allocatable, like the kubelet."""
    kind, _, resource = ref["resource"].partition(".")
    resources = container.get("resources", {})
    raw = (resources.get(kind) or {}).get(resource)
    if raw is None and kind == "requests":
        raw = (resources.get("limits") or {}).get(resource)
    if raw is None:
        raw = allocatable.get(resource, "0")
    divisor = parse_quantity(str(ref.get("divisor", "1")))
    return str(int((parse_quantity(str(raw)) / divisor).to_integral_value(ROUND_CEILING)))


Lookup = Callable[[str, str], dict[str, Any] | None]


def _key_ref(ref: dict[str, Any], kind: str, lookup: Lookup, decode: bool) -> str | None:
    """The value of a secretKeyRef / configMapKeyRef, or None when optional and absent."""
    obj = lookup(kind, ref["name"])
    optional = bool(ref.get("optional"))
    data = (obj or {}).get("data") or {}
    if obj is None or ref["key"] not in data:
        if optional:
            return None
        what = f'{kind[:-1]} "{ref["name"]}"' + ("" if obj is None else f' key "{ref["key"]}"')
        raise ConfigError(f"{what} not found")
    value = data[ref["key"]]
    return base64.b64decode(value).decode() if decode else value


def container_env(
    pod: dict[str, Any],
    container: dict[str, Any],
    base: Mapping[str, str],
    lookup: Lookup,
    allocatable: Mapping[str, str],
) -> dict[str, str]:
    """Base env, then envFrom, then env, each value expanded against what came before."""
    env = dict(base)
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        for kind, key in (("configmaps", "configMapRef"), ("secrets", "secretRef")):
            if key not in source:
                continue
            ref = source[key]
            obj = lookup(kind, ref["name"])
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{kind[:-1]} "{ref["name"]}" not found')
            for name, value in (obj.get("data") or {}).items():
                if _ENV_NAME.match(prefix + name):
                    env[prefix + name] = (
                        base64.b64decode(value).decode() if kind == "secrets" else value
                    )
    for var in container.get("env", []):
        name = var["name"]
        if "value" in var or "valueFrom" not in var:
            env[name] = expand(var.get("value", ""), env)
            continue
        source = var["valueFrom"]
        value: str | None
        if "fieldRef" in source:
            value = field_value(pod, source["fieldRef"]["fieldPath"])
        elif "resourceFieldRef" in source:
            value = resource_value(container, source["resourceFieldRef"], allocatable)
        elif "secretKeyRef" in source:
            value = _key_ref(source["secretKeyRef"], "secrets", lookup, decode=True)
        elif "configMapKeyRef" in source:
            value = _key_ref(source["configMapKeyRef"], "configmaps", lookup, decode=False)
        else:
            raise ConfigError(f"unsupported valueFrom for {name}: {sorted(source)}")
        if value is not None:
            env[name] = value
    return env
