"""The report page: one self-contained HTML page rendered from a test's status.

`render_report(status, spec)` is a pure function of the status and spec as plain
dicts (their wire form, camelCase), so `elt run` (from its result) and `elt report`
(from a resource in a cluster) draw the same page from the same figures.
"""

from __future__ import annotations

from typing import Any

from endpoint_loadtest.report import page, search, single


def render_report(status: dict[str, Any], spec: dict[str, Any], name: str = "") -> str:
    """The report's HTML: a capacity search's when status.capacity is there."""
    status, spec = status or {}, spec or {}
    capacity = status.get("capacity")
    kind = "capacity search" if capacity else "load test"
    subtitle = " · ".join(
        part
        for part in (
            _target(spec),
            f"run {status['runId']}" if status.get("runId") else "",
            _period(status),
        )
        if part
    )
    sections = [page.verdict_section(status)]
    if capacity:
        sections += [
            search.answer_section(capacity),
            search.recommendation_section(capacity),
            search.curve_section(capacity, spec),
            search.steps_section(capacity),
        ]
    else:
        results = status.get("results") or {}
        if results:
            sections.append(single.figures_section(results))
        sections.append(single.series_section(status, spec))
        sections.append(single.cloudwatch_section(results))
    return page.page(f"{name or 'EndpointLoadTest'}: {kind}", subtitle, sections)


def _target(spec: dict[str, Any]) -> str:
    target = spec.get("target") or {}
    if target.get("sagemaker"):
        sagemaker = target["sagemaker"]
        return f"SageMaker endpoint {sagemaker.get('endpointName', '?')}"
    if target.get("http"):
        return f"HTTP {target['http'].get('url', '?')}"
    return ""


def _period(status: dict[str, Any]) -> str:
    started, finished = status.get("startedAt"), status.get("finishedAt")
    if started and finished:
        return f"{started} to {finished}"
    return str(started or "")
