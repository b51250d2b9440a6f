"""The run token in a cluster: derived by the operator, handed to the master in a Secret.

The operator creates the Secret but may never read one (its RBAC has create and delete
on Secrets, no get, list or watch), and a restarted operator must still speak to a
running master. So the token is not stored anywhere the operator reads back: it is an
HMAC, under the operator's own key (a Secret of the operator's namespace, mounted into
the operator pod), of the test's namespace, name, uid and run id. Only the operator and
the pods that mount the run's Secret know it; a new run has a new token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from endpoint_loadtest.engine.signing import TOKEN_KEY
from endpoint_loadtest.k8s.manifests import RUN_TOKEN_FILE, child_base_name, labels

TOKEN_MOUNT = RUN_TOKEN_FILE.rsplit("/", 1)[0]  # the Secret, mounted read-only
TOKEN_VOLUME = "run-token"
MIN_KEY_BYTES = 32


def derive_token(key: bytes, namespace: str, name: str, uid: str, run_id: str) -> str:
    """The run's token: the same for the same run under the same key, for any operator."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the run token key must have at least {MIN_KEY_BYTES} bytes")
    message = "\n".join(("elt-run-token-v1", namespace, name, uid, run_id)).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def secret_name(test_name: str, run_id: str) -> str:
    """Named by the run: the operator deletes it by this name (it may not list Secrets),
    and a name with a fresh random run id is never a Secret someone else made first."""
    return f"{child_base_name(test_name)}-token-{run_id}"


def build_run_secret(test_name: str, run_id: str, token: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": secret_name(test_name, run_id),
            "labels": labels(test_name, run_id, "run-token"),
        },
        "stringData": {TOKEN_KEY: token},
    }


def mount_token(pod_template: dict[str, Any], test_name: str, run_id: str) -> dict[str, Any]:
    """The pod template with the run's Secret mounted read-only at TOKEN_MOUNT (a file,
    never an environment variable: no `kubectl describe` or /proc/<pid>/environ shows it)."""
    spec = pod_template["spec"]
    spec["volumes"] = [
        *spec.get("volumes", []),
        {
            "name": TOKEN_VOLUME,
            "secret": {
                "secretName": secret_name(test_name, run_id),
                "defaultMode": 0o444,  # the image's user, whatever its uid, reads it
                "items": [{"key": TOKEN_KEY, "path": TOKEN_KEY}],
            },
        },
    ]
    for container in spec["containers"]:
        container["volumeMounts"] = [
            *container.get("volumeMounts", []),
            {"name": TOKEN_VOLUME, "mountPath": TOKEN_MOUNT, "readOnly": True},
        ]
    return pod_template
