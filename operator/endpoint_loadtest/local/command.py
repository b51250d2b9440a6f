"""`elt run FILE`: run a test document on this machine with real Locust processes.

Exit codes (documented in the README): 0 Passed, 1 Failed, 2 Inconclusive,
3 invalid input or an error that kept the test from running.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_INCONCLUSIVE = 2
EXIT_ERROR = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="an EndpointLoadTest YAML document")
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=Path("elt-output"),
        help="folder for result.json, report.html, Locust's CSVs and report (default: elt-output)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="override spec.load.workers (worker processes on this machine)",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no live progress, only the verdict"
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve the test's Prometheus metrics at http://HOST:PORT/metrics while it runs "
        "(0 = any free port, printed)",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address for --metrics-port (default 127.0.0.1; 0.0.0.0 for every interface)",
    )
    parser.add_argument(
        "--metrics-linger",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="with --metrics-port: after the verdict, keep serving until /metrics was "
        "scraped once with the final figures, at most this long (default 15)",
    )


def run(args: argparse.Namespace) -> int:
    from endpoint_loadtest.local.run_command import run_command

    return run_command(args)
