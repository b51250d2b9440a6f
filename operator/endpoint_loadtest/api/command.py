"""`elt validate FILE`: check a document against the models the CRD comes from."""

from __future__ import annotations

import argparse
import sys

from endpoint_loadtest.api.loader import DocumentError, load_document

EXIT_OK = 0
EXIT_INVALID = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="an EndpointLoadTest YAML document")


def run(args: argparse.Namespace) -> int:
    try:
        test = load_document(args.file)
    except DocumentError as error:
        print(f"invalid: {error}", file=sys.stderr)
        return EXIT_INVALID
    print(
        f"{args.file}: valid EndpointLoadTest {test.metadata.name!r} "
        f"targeting {test.spec.target.describe()}"
    )
    return EXIT_OK
