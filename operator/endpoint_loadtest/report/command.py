"""`elt report NAME [-n NAMESPACE] [-o FILE]`: the report of a test in a cluster.

Reads the EndpointLoadTest through the current kubeconfig context (as kubectl does)
and renders the same page `elt run` writes, from the resource's status.
Exit codes: 0 written, 3 not found, no status yet, or no access to the cluster.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_ERROR = 3
REQUEST_TIMEOUT_SECONDS = 15


class ReportError(Exception):
    """The report could not be made; the message says why, for the user."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the EndpointLoadTest's name")
    parser.add_argument(
        "--namespace",
        "-n",
        default=None,
        help="its namespace (default: the kubeconfig context's, else default)",
    )
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=None,
        help="the HTML file to write (default: NAME-report.html)",
    )
    parser.add_argument(
        "--context", default=None, help="the kubeconfig context (default: the current one)"
    )


def run(args: argparse.Namespace) -> int:
    from endpoint_loadtest.report.render import render_report

    try:
        resource, namespace = fetch(args.name, args.namespace, args.context)
        status = resource.get("status") or {}
        if not status.get("phase"):
            raise ReportError(
                f"EndpointLoadTest {namespace}/{args.name} has no status yet: the operator "
                "has not started it (is the operator running in the cluster?)"
            )
    except ReportError as error:
        print(f"elt report: {error}", file=sys.stderr)
        return EXIT_ERROR
    output: Path = args.output or Path(f"{args.name}-report.html")
    html = render_report(status, resource.get("spec") or {}, args.name)
    try:
        output.write_text(html, encoding="utf-8")
    except OSError as error:
        print(f"elt report: cannot write {output}: {error.strerror}", file=sys.stderr)
        return EXIT_ERROR
    verdict = (status.get("verdict") or {}).get("result")
    state = verdict or f"{status['phase']}, no verdict yet: the report shows it so far"
    print(f"report: {output} ({namespace}/{args.name}: {state})")
    return EXIT_OK


def fetch(name: str, namespace: str | None, context: str | None) -> tuple[dict[str, Any], str]:
    """The resource as the API server has it, and the namespace it was read from."""
    import kubernetes
    import urllib3
    from kubernetes.client.exceptions import ApiException

    from endpoint_loadtest.api import models

    try:
        client = kubernetes.config.new_client_from_config(context=context)
        if namespace is None:
            _, active = kubernetes.config.list_kube_config_contexts()
            if context is not None:
                contexts, _ = kubernetes.config.list_kube_config_contexts()
                active = next((c for c in contexts if c["name"] == context), active)
            namespace = (active or {}).get("context", {}).get("namespace") or "default"
    except (kubernetes.config.ConfigException, OSError) as error:
        raise ReportError(
            f"no cluster access: the kubeconfig could not be loaded: {error}"
        ) from None
    host = client.configuration.host
    api = kubernetes.client.CustomObjectsApi(client)
    try:
        resource = api.get_namespaced_custom_object(
            models.GROUP, models.VERSION, namespace, models.PLURAL, name,
            _request_timeout=REQUEST_TIMEOUT_SECONDS,
        )  # fmt: skip
    except ApiException as error:
        if error.status == 404:
            raise ReportError(
                f"EndpointLoadTest {namespace}/{name} not found (kubectl get elt -n {namespace})"
            ) from None
        if error.status in (401, 403):
            raise ReportError(
                f"no cluster access: the API server at {host} refused to read "
                f"EndpointLoadTest {namespace}/{name} (HTTP {error.status} {error.reason})"
            ) from None
        raise ReportError(f"the API server at {host} answered HTTP {error.status}: "
                          f"{error.reason}") from None  # fmt: skip
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise ReportError(f"no cluster access: cannot reach the API server at {host}: "
                          f"{type(error).__name__}") from None  # fmt: skip
    finally:
        client.close()
    return resource, namespace
