"""The HTTP side: aiohttp routes for InvokeEndpoint, /ping and the /_simulator API.

Order of checks for POST /endpoints/{name}/invocations, as on AWS: SigV4 (403), endpoint
exists (400 ValidationError), TargetVariant valid, endpoint throttle (400
ThrottlingException); then, inside the chosen variant: fixed overhead, injected
front-end errors, the queueing model, injected ModelError.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from aiohttp import web

from endpoint_loadtest.simulator import errors
from endpoint_loadtest.simulator.config import FRONT_END_ERRORS, SimulatorConfig
from endpoint_loadtest.simulator.metrics import MetricsCollector
from endpoint_loadtest.simulator.model import OVERLOADED, TIMEOUT, Endpoint, Variant
from endpoint_loadtest.simulator.sigv4 import AuthError, SigV4Verifier
from endpoint_loadtest.simulator.stats import EndpointStats, Stats
from endpoint_loadtest.simulator.streaming import StreamingRoutes

log = logging.getLogger("endpoint_loadtest.simulator.server")

MAX_BODY_BYTES = 6_291_456  # InvokeEndpoint's documented payload limit
H_CUSTOM = "X-Amzn-SageMaker-Custom-Attributes"
H_TARGET_VARIANT = "X-Amzn-SageMaker-Target-Variant"


@dataclass(slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    error: str | None = None
    original_status: int | None = None  # set for ModelError


@dataclass(slots=True)
class Arrival:
    """An invocation as both InvokeEndpoint routes (plain and streaming) first read it."""

    started: float  # loop time before the body was read
    body: bytes
    name: str
    endpoint: Endpoint | None
    stats: EndpointStats
    request_id: str


class Simulator:
    """Holds the endpoints, counters and verifier; builds the aiohttp application."""

    def __init__(
        self,
        config: SimulatorConfig,
        verifier: SigV4Verifier | None,
        collector_period_s: float = 60.0,
    ) -> None:
        self.config = config
        self.verifier = verifier
        loop_now = asyncio.get_running_loop().time()  # build inside the loop
        self.endpoints = {e.name: Endpoint(e, config.seed, loop_now) for e in config.endpoints}
        self.stats = Stats({e.name: [v.name for v in e.variants] for e in config.endpoints})
        self.collector = MetricsCollector(self.endpoints, collector_period_s)
        self.streaming = StreamingRoutes(self)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES + 1024)
        app.router.add_post("/endpoints/{name}/invocations", self.invoke)
        app.router.add_get("/ping", self.ping)
        app.router.add_get("/_simulator/stats", self.get_stats)
        app.router.add_post("/_simulator/reset", self.reset)
        app.router.add_get("/_simulator/config", self.get_config)
        self.streaming.add_routes(app)
        app.router.add_route("*", "/{tail:.*}", self.unknown)
        return app

    # ------------------------------------------------------------------ small routes

    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(status=200, text="")

    async def get_stats(self, request: web.Request) -> web.Response:
        body = self.stats.to_dict()
        body["cloudwatch"] = {
            "periodSeconds": self.collector.period_s,
            "invocationsByPeriod": self.collector.invocations_by_period(),
        }
        return web.json_response(body)

    async def reset(self, request: web.Request) -> web.Response:
        self.stats.reset()
        self.streaming.stats.reset()
        self.collector.forget_recorded()
        return web.json_response({"reset": True})

    async def get_config(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "accountId": self.config.account_id,
                "region": self.config.region,
                "endpoints": {
                    e.name: {
                        v.config.name: {
                            "instances": v.config.instances,
                            "vcpus": v.config.vcpus,
                            "queueDepth": v.config.queue_depth,
                            "meanServiceMs": v.config.service_time.mean_ms,
                            "capacityRps": v.config.capacity_rps,
                        }
                        for v in e.variants.values()
                    }
                    for e in self.endpoints.values()
                },
            }
        )

    async def unknown(self, request: web.Request) -> web.Response:
        status, headers, body = errors.error_response("UnknownOperationException", "")
        return web.Response(status=status, headers=headers, body=body)

    # ------------------------------------------------------------------ InvokeEndpoint

    def signature_error(self, request: web.Request, body: bytes) -> AuthError | None:
        """Why the request's SigV4 signature is refused, or None (also with auth off)."""
        if self.verifier is None:
            return None
        path, _, query = request.raw_path.partition("?")
        headers = request.headers
        try:
            self.verifier.verify(
                request.method, path, query, headers, lambda n: headers.getall(n, ()), body
            )
        except AuthError as exc:
            return exc
        return None

    async def arrive(self, request: web.Request) -> Arrival:
        """Read the request and look up the endpoint it names (None if it names none)."""
        started = asyncio.get_running_loop().time()
        body = await request.read()
        name = request.match_info["name"]
        return Arrival(
            started,
            body,
            name,
            self.endpoints.get(name),
            self.stats.endpoints.get(name) or self.stats.unknown,
            str(uuid.uuid4()),
        )

    def refusal(self, request: web.Request, arrival: Arrival) -> web.Response | None:
        """The answer, counted, to a request refused before any variant: a signature
        refused (403) or an endpoint that does not exist (400); None if it may go on."""
        if (exc := self.signature_error(request, arrival.body)) is not None:
            return self.refuse(arrival, exc.code, exc.message, auth_failure=True)
        if arrival.endpoint is None:
            return self.refuse(
                arrival,
                "ValidationError",
                f"Endpoint {arrival.name} of account {self.config.account_id} not found.",
            )
        return None

    def refuse(
        self, arrival: Arrival, code: str, message: str | None = None, auth_failure: bool = False
    ) -> web.Response:
        """An AWS error answer to the arrival, counted at endpoint level."""
        self.stats.endpoint_response(
            arrival.stats, errors.status_of(code), code, auth_failure=auth_failure
        )
        return self.answer_error(code, message, arrival.request_id)

    async def invoke(self, request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        arrival = await self.arrive(request)
        if (refused := self.refusal(request, arrival)) is not None:
            return refused
        endpoint, ep_stats, name = arrival.endpoint, arrival.stats, arrival.name
        assert endpoint is not None  # refusal() answered a missing one

        target = request.headers.get(H_TARGET_VARIANT)
        if target:
            variant = endpoint.variants.get(target)
            if variant is None:
                return self.refuse(
                    arrival,
                    "ValidationError",
                    f"The variant {target} is not a production variant of endpoint {name}.",
                )
        else:
            variant = endpoint.choose_variant()

        if not endpoint.throttle.take(loop.time()):
            return self.refuse(arrival, "ThrottlingException")

        reply, service_s, model_s, overhead_s = await self._run_variant(endpoint, variant)
        if reply.error is None:
            custom = request.headers.get(H_CUSTOM)
            if custom is not None:
                reply.headers[H_CUSTOM] = custom
        self.stats.endpoint_response(ep_stats, reply.status, reply.error)
        self.stats.variant_response(
            ep_stats.variants[variant.config.name],
            reply.status,
            reply.error,
            service_s,
            model_s,
            loop.time() - arrival.started,
        )
        self.collector.record(
            endpoint.name,
            variant.config.name,
            reply.status,
            reply.original_status,
            model_s,
            overhead_s,
        )
        return self._respond(reply, arrival.request_id)

    async def _run_variant(
        self, endpoint: Endpoint, variant: Variant
    ) -> tuple[Reply, float | None, float | None, float]:
        """(reply, service seconds, model latency seconds, overhead seconds)."""
        cfg = variant.config
        injected = None
        if cfg.error_rates:
            draw = variant.rng.random()
            for code, rate in cfg.error_rates.items():
                if draw < rate:
                    injected = code
                    break
                draw -= rate
        service_s = variant.draw_service_s()
        overhead_s = cfg.overhead_ms / 1000.0
        if overhead_s > 0:
            await asyncio.sleep(overhead_s)
        if injected in FRONT_END_ERRORS:
            return self._error(injected), None, None, overhead_s

        outcome = await variant.invoke(service_s)
        if outcome.kind == OVERLOADED:
            if cfg.overload == "ModelError":
                reply = self._model_error(endpoint, 503, errors.OVERLOAD_MESSAGE)
            else:
                reply = self._error("ServiceUnavailable")
            return reply, None, None, overhead_s
        served_s = outcome.service_s
        model_s = outcome.model_latency_s
        if outcome.kind == TIMEOUT:
            msg = errors.TIMEOUT_MESSAGE.format(container="primary")
            return self._model_error(endpoint, 0, msg), served_s, model_s, overhead_s
        if injected == "ModelError":
            reply = self._model_error(
                endpoint, cfg.model_error_status, "Injected model error (simulator)"
            )
            return reply, served_s, model_s, overhead_s
        headers = {
            "Content-Type": cfg.response_content_type,
            "x-Amzn-Invoked-Production-Variant": cfg.name,
        }
        return Reply(200, headers, cfg.response_body.encode()), served_s, model_s, overhead_s

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _error(code: str, message: str | None = None) -> Reply:
        status, headers, body = errors.error_response(code, message)
        return Reply(status, headers, body, error=code)

    def _model_error(self, endpoint: Endpoint, original_status: int, message: str) -> Reply:
        status, headers, body = errors.model_error(
            original_status=original_status,
            original_message=message,
            endpoint=endpoint.name,
            region=self.config.region,
            account_id=self.config.account_id,
        )
        return Reply(status, headers, body, error="ModelError", original_status=original_status)

    @classmethod
    def answer_error(cls, code: str, message: str | None, request_id: str) -> web.Response:
        """The AWS error response with this code, as every route answers it."""
        return cls._respond(cls._error(code, message), request_id)

    @staticmethod
    def _respond(reply: Reply, request_id: str) -> web.Response:
        reply.headers["x-amzn-RequestId"] = request_id
        return web.Response(status=reply.status, headers=reply.headers, body=reply.body)
