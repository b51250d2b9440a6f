"""The `elt` command: one entry point, one sub-command per job.

Each sub-command module offers add_arguments(parser) and run(args) -> exit code, and
imports its heavy dependencies (gevent, Locust, boto3) inside run() so that
`elt validate` and `elt --help` stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from endpoint_loadtest import __version__

# name -> (module, help). Each module offers add_arguments(parser) and run(args) -> int.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("endpoint_loadtest.local.command", "run a load test document on this machine"),
    "validate": ("endpoint_loadtest.api.command", "check a load test document"),
    "report": (
        "endpoint_loadtest.report.command",
        "write the HTML report of a test in a cluster, from its status",
    ),
    "simulate": (
        "endpoint_loadtest.simulator.command",
        "serve a SageMaker real-time endpoint simulator on loopback",
    ),
}

EXIT_ERROR = 3


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors; elt documents 3 for every invalid input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="elt", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"elt {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(_module=module_name)
        _module(module_name).add_arguments(sub_parser)
    return parser


def _module(name: str):
    return importlib.import_module(name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(_module(args._module).run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
