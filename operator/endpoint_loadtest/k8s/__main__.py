"""`elt-operator`: run the operator (kopf), watching namespaces from flags or ELT_NAMESPACES.

elt-operator                      # all namespaces (ClusterRole)
elt-operator -n team-a -n team-b  # only these (Roles)
"""

from __future__ import annotations

import argparse
import random
import sys

from endpoint_loadtest.k8s.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="elt-operator", description=__doc__.splitlines()[0])
    parser.add_argument(
        "-n", "--namespace", action="append", default=[], help="watch this namespace (repeatable)"
    )
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--peering",
        metavar="NAME",
        help="elect one active replica through the kopf peering object NAME",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning"],
        default="info",
        help="log level (--verbose is --log-level=debug)",
    )
    parser.add_argument(
        "--log-format", choices=["plain", "full", "json"], default="full", help="log format"
    )
    parser.add_argument(
        "--liveness",
        metavar="URL",
        help="serve kopf's liveness endpoint here, e.g. http://0.0.0.0:8080/healthz",
    )
    args = parser.parse_args(argv)
    namespaces = args.namespace or Settings.from_environment().namespaces
    from kopf.cli import main as kopf_main

    kopf_args = ["run", "-m", "endpoint_loadtest.k8s.main"]
    if args.peering:
        # Distinct priorities: the highest-priority replica works, the others freeze.
        kopf_args += ["--peering", args.peering, "--priority", str(random.randint(1, 2**30))]
    else:
        kopf_args.append("--standalone")
    if args.liveness:
        kopf_args += ["--liveness", args.liveness]
    kopf_args += [f"--namespace={n}" for n in namespaces] or ["--all-namespaces"]
    if args.verbose or args.log_level == "debug":
        kopf_args.append("--verbose")
    elif args.log_level == "warning":
        kopf_args.append("--quiet")
    kopf_args.append(f"--log-format={args.log_format}")
    sys.argv = ["kopf", *kopf_args]
    return kopf_main()


if __name__ == "__main__":
    sys.exit(main())
