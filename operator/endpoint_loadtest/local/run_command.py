"""`elt run FILE`, once its flags are parsed (command.py): load the document, run it
(runtime.py), write what it leaves behind and print the verdict.

It leaves result.json (the resource as it would look in a cluster, status included)
and report.html in the output folder, beside Locust's reports, and returns the exit
code of the verdict. SIGTERM ends a run as Ctrl-C does, so a cancelled CI job still
writes what was measured and leaves no Locust process behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path

from endpoint_loadtest.api.loader import load_for_command
from endpoint_loadtest.api.models import EndpointLoadTest, EndpointLoadTestStatus, VerdictResult
from endpoint_loadtest.engine.plan import PlanError
from endpoint_loadtest.engine.status import error_status
from endpoint_loadtest.local.command import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_INCONCLUSIVE,
    EXIT_PASSED,
)
from endpoint_loadtest.local.progress import ProgressReporter, render_capacity, render_verdict
from endpoint_loadtest.local.runtime import LocalRun, RunError
from endpoint_loadtest.observability import cloudwatch as cw
from endpoint_loadtest.observability.exporter import EXPORTER, serve
from endpoint_loadtest.report.render import render_report

EXIT_CODES = {
    VerdictResult.PASSED: EXIT_PASSED,
    VerdictResult.FAILED: EXIT_FAILED,
    VerdictResult.INCONCLUSIVE: EXIT_INCONCLUSIVE,
}


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (CI cancelling a job, `timeout`, kill) ends the run like Ctrl-C does.

    The Locust processes run in their own sessions, so without this a terminated
    `elt run` would leave its master and workers running and write no result.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def write_result(output: Path, test: EndpointLoadTest, status: EndpointLoadTestStatus) -> Path:
    """result.json: the resource as it would look in a cluster, status included."""
    document = {
        "apiVersion": test.api_version,
        "kind": test.kind,
        "metadata": {"name": test.metadata.name},
        "spec": test.spec.to_wire(),
        "status": status.to_wire(),
    }
    path = output / "result.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def write_report(output: Path, test: EndpointLoadTest, status: EndpointLoadTestStatus) -> Path:
    """report.html: our report of the verdict's figures (Locust's is locust-report.html)."""
    path = output / "report.html"
    path.write_text(render_report(status.to_wire(), test.spec.to_wire(), test.metadata.name))
    return path


def _render_cloudwatch(status: EndpointLoadTestStatus) -> None:
    """The endpoint's CloudWatch figures under the verdict table, or why they are missing."""
    for condition in status.conditions:
        if condition.type == cw.CONDITION_TYPE and condition.status != "True":
            print(f"CloudWatch: {condition.message}")
    figures = status.results.cloudwatch if status.results else None
    if figures is None:
        return

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:g} ms"

    model, overhead = figures.model_latency_ms, figures.overhead_latency_ms
    cpu = (
        "-" if figures.cpu_utilization_percent is None else f"{figures.cpu_utilization_percent:g}%"
    )
    if figures.instance_cpu_percent is not None:
        cpu += f" ({figures.instance_cpu_percent:g}% of the instance)"
    print(
        f"CloudWatch {figures.endpoint_name}/{figures.variant_name}: "
        f"{figures.invocations or 0:g} invocations, "
        f"5XX {figures.invocation_5xx_errors or 0:g}, 4XX {figures.invocation_4xx_errors or 0:g}; "
        f"ModelLatency avg {ms(model.average)} p50 {ms(model.p50)} p90 {ms(model.p90)} "
        f"p99 {ms(model.p99)}; OverheadLatency avg {ms(overhead.average)} p99 {ms(overhead.p99)}; "
        f"CPU max {cpu}"
        + (", SATURATED" if figures.saturated else "")
        + ("" if figures.complete else "; the last period was not published in time")
    )


def run_command(args: argparse.Namespace) -> int:
    test = load_for_command(args.file)
    if test is None:
        return EXIT_ERROR
    if args.workers is not None:
        if args.workers < 1:
            print("invalid: --workers must be at least 1", file=sys.stderr)
            return EXIT_ERROR
        test.spec.load.workers = args.workers
    output: Path = args.output
    reporter = ProgressReporter(title=f"elt run {test.metadata.name}", quiet=args.quiet)
    metrics_port = getattr(args, "metrics_port", None)
    run = LocalRun(
        test=test, output=output, reporter=reporter, export_metrics=metrics_port is not None
    )
    if metrics_port is not None:
        try:
            server, _ = serve(metrics_port, getattr(args, "metrics_host", "127.0.0.1"))
        except OSError as error:
            print(f"invalid: --metrics-port {metrics_port}: {error}", file=sys.stderr)
            return EXIT_ERROR
        host, port = server.server_address[:2]
        print(f"metrics: http://{host}:{port}/metrics", flush=True)
    try:
        with reporter, _terminate_as_interrupt():
            status = run.execute()
    except (RunError, PlanError) as error:
        status = error_status(run_id=run.run_id, started_at=run.started_at, message=str(error))
    except KeyboardInterrupt:
        status = error_status(
            run_id=run.run_id, started_at=run.started_at, message="interrupted before a result"
        )
    if getattr(run, "client", None) is not None:
        status.series = run.client.series.status_series
    path = write_result(output, test, status)
    report = write_report(output, test, status)
    render_verdict(status)
    if status.capacity is not None:
        render_capacity(status.capacity)
    _render_cloudwatch(status)
    if metrics_port is not None:
        run.export(status.to_wire())
        linger = float(getattr(args, "metrics_linger", 0.0))
        if linger > 0 and not EXPORTER.wait_scraped(linger):
            print(f"metrics: the final figures were not scraped within {linger:g}s")
    print(f"result: {path}  report: {report}")
    if status.verdict is None:
        return EXIT_ERROR
    return EXIT_CODES[VerdictResult(status.verdict.result)]
