"""`python -m endpoint_loadtest.simulator` = `elt simulate`, without importing the other
sub-commands (handy for fixtures while the rest of the CLI is being written)."""

from __future__ import annotations

import argparse
import sys

from endpoint_loadtest.simulator import command

EXIT_ERROR = 3


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 3, like `elt`."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def main() -> int:
    parser = _Parser(prog="elt simulate", description="SageMaker real-time endpoint simulator")
    command.add_arguments(parser)
    try:
        return int(command.run(parser.parse_args()))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
