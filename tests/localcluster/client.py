"""A minimal JSON REST client for the API server (dicts in, dicts out).

The node agent and the harness need list/watch/patch on a handful of resources;
plain `requests` with the admin client certificate keeps that fast and explicit
(no model deserialization) and makes 410 Gone handling straightforward.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests


class ApiError(Exception):
    """A non-2xx answer from the API server."""

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body
        try:
            self.reason = json.loads(body).get("reason", "")
        except ValueError:
            self.reason = ""
        super().__init__(f"HTTP {status}: {body[:500]}")


@dataclass(frozen=True)
class Credentials:
    """How to reach and authenticate to the API server."""

    server: str
    ca_file: str
    cert_file: str
    key_file: str


class Kube:
    """Thin wrapper over a requests.Session bound to one API server."""

    def __init__(self, creds: Credentials, pool_size: int = 32) -> None:
        self.creds = creds
        self.session = requests.Session()
        # Ignore REQUESTS_CA_BUNDLE & co: they would override session.verify.
        self.session.trust_env = False
        self.session.verify = creds.ca_file
        self.session.cert = (creds.cert_file, creds.key_file)
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
        self.session.mount("https://", adapter)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> dict[str, Any]:
        """One API call; raises ApiError on a non-2xx answer."""
        data = None if body is None else json.dumps(body)
        resp = self.session.request(
            method,
            self.creds.server + path,
            params=params,
            data=data,
            headers={"Content-Type": content_type, "Accept": "application/json"},
            timeout=timeout,
        )
        if not 200 <= resp.status_code < 300:
            raise ApiError(resp.status_code, resp.text)
        return resp.json() if resp.content else {}

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any) -> dict[str, Any]:
        return self.request("POST", path, body=body)

    def put(self, path: str, body: Any) -> dict[str, Any]:
        return self.request("PUT", path, body=body)

    def merge_patch(self, path: str, body: Any) -> dict[str, Any]:
        return self.request("PATCH", path, body=body, content_type="application/merge-patch+json")

    def strategic_patch(self, path: str, body: Any) -> dict[str, Any]:
        return self.request(
            "PATCH", path, body=body, content_type="application/strategic-merge-patch+json"
        )

    def delete(self, path: str, body: Any = None) -> dict[str, Any]:
        return self.request("DELETE", path, body=body)

    def watch(
        self, path: str, resource_version: str, timeout_seconds: int = 300, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """Yield watch events; raises ApiError(410) when the resourceVersion is too old."""
        query = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
            **params,
        }
        with self.session.get(
            self.creds.server + path,
            params=query,
            stream=True,
            timeout=(10, timeout_seconds + 30),
        ) as resp:
            if resp.status_code != 200:
                raise ApiError(resp.status_code, resp.text)
            for line in resp.iter_lines():
                if not line:
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    obj = event.get("object", {})
                    raise ApiError(obj.get("code", 500), json.dumps(obj))
                yield event
