"""The simulator process: start listening, announce readiness, publish metrics, stop cleanly.

On SIGTERM/SIGINT it stops accepting, lets in-flight requests finish (3 s at most),
then publishes the partial last metrics period before exiting 0.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys

from endpoint_loadtest.simulator.config import SimulatorConfig

log = logging.getLogger("endpoint_loadtest.simulator")

SHUTDOWN_GRACE_S = 3.0


def _credentials(args: argparse.Namespace) -> dict[str, str]:
    key = args.access_key_id or os.environ.get("AWS_ACCESS_KEY_ID") or "testing"
    secret = args.secret_access_key or os.environ.get("AWS_SECRET_ACCESS_KEY") or "testing"
    return {key: secret}


def _cloudwatch_url(args: argparse.Namespace) -> str | None:
    if args.no_cloudwatch:
        return None
    return (
        args.cloudwatch_endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL_CLOUDWATCH")
        or os.environ.get("AWS_ENDPOINT_URL")
    )


def _write_ready_file(path: str, url: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"url": url, "pid": os.getpid()}, handle)
    os.replace(tmp, path)  # readers never see a half-written file


def _url(host: str, port: int) -> str:
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


async def _serve(args: argparse.Namespace, config: SimulatorConfig, period_s: float) -> int:
    from aiohttp import web

    from endpoint_loadtest.simulator.metrics import CloudWatchPublisher, publish_loop
    from endpoint_loadtest.simulator.server import Simulator
    from endpoint_loadtest.simulator.sigv4 import SigV4Verifier

    any_region = config.region == "*"
    if any_region:
        config = dataclasses.replace(config, region="us-east-1")
    verifier = None
    if args.auth == "sigv4":
        verifier = SigV4Verifier(_credentials(args), region=None if any_region else config.region)
    simulator = Simulator(config, verifier, period_s)

    publisher = None
    cw_url = _cloudwatch_url(args)
    if cw_url:
        publisher = CloudWatchPublisher(cw_url, config.region)
        log.info("publishing CloudWatch metrics every %gs to %s", period_s, cw_url)
    else:
        log.info(
            "CloudWatch publishing disabled (%s)",
            "--no-cloudwatch"
            if args.no_cloudwatch
            else "set AWS_ENDPOINT_URL_CLOUDWATCH or --cloudwatch-endpoint-url to enable",
        )

    runner = web.AppRunner(
        simulator.app(), access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE_S
    )
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, backlog=4096)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        print(
            f"elt simulate: error: --port: cannot listen on {args.host}:{args.port}: "
            f"{exc.strerror}",
            file=sys.stderr,
        )
        return 3
    port = runner.addresses[0][1]
    url = _url(args.host, port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    publish_stop = asyncio.Event()
    publishing = asyncio.create_task(
        publish_loop(
            simulator.collector, publisher, simulator.endpoints, args.metrics_format, publish_stop
        )
    )

    if args.ready_file:
        _write_ready_file(args.ready_file, url)
    print(url, flush=True)
    auth = "SigV4 (service sagemaker)" if verifier else "none"
    for endpoint in config.endpoints:
        for v in endpoint.variants:
            log.info(
                "endpoint %s variant %s: %d x %d vCPU, mean service %.1f ms, capacity %.0f req/s",
                endpoint.name,
                v.name,
                v.instances,
                v.vcpus,
                v.service_time.mean_ms,
                v.capacity_rps,
            )
    log.info(
        "listening on %s (auth: %s, region %s)", url, auth, "*" if any_region else config.region
    )

    await stop.wait()
    log.info("stopping: finishing in-flight requests, flushing metrics")
    await runner.cleanup()
    publish_stop.set()
    await publishing
    return 0


def serve(args: argparse.Namespace, config: SimulatorConfig, period_s: float) -> int:
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)
    return asyncio.run(_serve(args, config, period_s))
