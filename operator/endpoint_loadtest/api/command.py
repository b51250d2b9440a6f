"""`elt validate FILE`: check a document against the models the CRD comes from."""

from __future__ import annotations

import argparse

from endpoint_loadtest.api.loader import load_for_command

EXIT_OK = 0
EXIT_INVALID = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="an EndpointLoadTest YAML document")


def run(args: argparse.Namespace) -> int:
    test = load_for_command(args.file)
    if test is None:
        return EXIT_INVALID
    print(
        f"{args.file}: valid EndpointLoadTest {test.metadata.name!r} "
        f"targeting {test.spec.target.describe()}"
    )
    return EXIT_OK
