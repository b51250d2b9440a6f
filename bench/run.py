"""`make bench`: load-generator cost and latency fidelity, measured in one run.

Layout on a 2-core machine: the Locust worker under test is pinned to core 0 with
taskset; the target (and the Locust master, which only aggregates) to core 1. Each
measurement samples the worker's and the target's CPU from /proc (psutil) over the
same interval as the request count, so the table shows the worker saturated and the
target not. See docs/performance.md for the method and the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cost import cost
from fidelity import fidelity_runs
from harness import ROOT
from table import print_table


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="each measurement")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--users", type=int, default=64, help="users for throughput")
    parser.add_argument("--memory-users", type=int, default=1000)
    parser.add_argument("--fidelity-users", type=int, default=40, help="closed, simulator")
    parser.add_argument("--open-rate", type=float, default=1000.0, help="open, simulator")
    parser.add_argument(
        "--capacity",
        type=float,
        nargs=2,
        metavar=("CLOSED", "OPEN"),
        help="with --only fidelity: the fast client's req/s per core against the instant "
        "target, closed and open model (default: measured)",
    )
    parser.add_argument("--only", choices=("throughput", "fidelity"), help="one part only")
    parser.add_argument("--output", type=Path, default=ROOT / "bench-output")
    args = parser.parse_args()
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        print("bench: needs taskset (util-linux) and 2 cores", file=sys.stderr)
        return 2
    args.output.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC).replace(microsecond=0).isoformat()
    results: dict[str, Any] = {
        "date": started,
        "machine": machine(),
        "targets": {"fast_vs_raw": 0.6, "fast_vs_boto3": 4.0, "fidelity_error": 0.05},
    }
    with tempfile.TemporaryDirectory(prefix="elt-bench-") as tmp:
        workdir = Path(tmp)
        if args.only != "fidelity":
            results.update(cost(args, workdir))
        if args.only != "throughput":
            canned = args.capacity or (
                results["rps_per_core"]["fast"],
                results["rps_per_core"]["fast_open"],
            )
            runs = fidelity_runs(args, workdir, canned)
            high = (runs["closed_high"], runs["open_high"])
            results["fidelity"] = {
                # the worst of closed and open at LOAD_FRACTION of the capacity
                "p50_error": max(r["p50_error"] for r in high),
                "p99_error": max(r["p99_error"] for r in high),
                **runs,
            }
    (args.output / "results.json").write_text(json.dumps(results, indent=2))
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
