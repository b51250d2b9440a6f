"""The simulator's streaming routes: InvokeEndpointWithResponseStream and an OpenAI route.

- `POST /endpoints/{name}/invocations-response-stream`: checks as InvokeEndpoint (SigV4,
  endpoint, TargetVariant, throttle), then the variant's streaming model
  (streaming_model.py) writes its tokens in the variant's format, each token's bytes cut
  into `partsPerToken` PayloadParts at random places, as
  `application/vnd.amazon.eventstream`. The accept type is read from
  `X-Amzn-SageMaker-Accept`. Mid-stream faults: ModelStreamError and
  InternalStreamFailure exception events, the server's in-band error (GenerationError),
  or a stream that just stops (TruncatedStream).
- `POST /v1/chat/completions` and `/v1/completions`: OpenAI-compatible server-sent
  events from the endpoint named by the body's `model` (else the first streaming one);
  no authentication, like a model server in a cluster.
Counts and each request's truth are served at GET /_simulator/streams (?records=1).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from typing import TYPE_CHECKING, Any

from aiohttp import web

from endpoint_loadtest.loadgen.streaming.eventstream import encode_message
from endpoint_loadtest.simulator import errors
from endpoint_loadtest.simulator.stream_render import Renderer, content_type
from endpoint_loadtest.simulator.streaming_model import (
    StreamingVariant,
    StreamStats,
    input_tokens_of,
    max_tokens_of,
)

if TYPE_CHECKING:
    from endpoint_loadtest.simulator.model import Endpoint, Variant
    from endpoint_loadtest.simulator.server import Simulator

H_ACCEPT = "X-Amzn-SageMaker-Accept"
PAYLOAD_PART = {":event-type": "PayloadPart", ":content-type": "application/octet-stream"}
EVENT = {":message-type": "event"}
EXCEPTION_MESSAGES = {
    "ModelStreamError": (
        '{"Message":"Simulated: the model stream broke.","ErrorCode":"StreamBroken"}'
    ),
    "InternalStreamFailure": '{"Message":"Simulated internal stream failure."}',
}


class StreamingRoutes:
    """The streaming variants of every endpoint, their stats, and the routes."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.stats = StreamStats()
        seed = simulator.config.seed
        self.variants: dict[tuple[str, str], StreamingVariant] = {}
        for endpoint in simulator.config.endpoints:
            for v in endpoint.variants:
                if v.streaming is not None:
                    rng = random.Random(None if seed is None else f"{seed}/{endpoint.name}/stream")
                    self.variants[(endpoint.name, v.name)] = StreamingVariant(
                        v.streaming, v.instances, rng, v.queue_depth
                    )

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/endpoints/{name}/invocations-response-stream", self.invoke_stream)
        app.router.add_post("/v1/chat/completions", self.openai)
        app.router.add_post("/v1/completions", self.openai)
        app.router.add_get("/_simulator/streams", self.get_streams)

    async def get_streams(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.to_dict(records="records" in request.query))

    # ------------------------------------------------------------------ SageMaker

    async def invoke_stream(self, request: web.Request) -> web.StreamResponse:
        sim = self.simulator
        loop = asyncio.get_running_loop()
        arrival = await sim.arrive(request)
        if (refused := sim.refusal(request, arrival)) is not None:
            return refused
        endpoint, ep_stats, name = arrival.endpoint, arrival.stats, arrival.name
        started, body, request_id = arrival.started, arrival.body, arrival.request_id
        assert endpoint is not None  # refusal() answered a missing one
        variant = self._variant(endpoint, request.headers.get("X-Amzn-SageMaker-Target-Variant"))
        if variant is None or (endpoint.name, variant.config.name) not in self.variants:
            return sim.refuse(
                arrival,
                "ValidationError",
                f"Endpoint {name} (or the variant asked for) does not stream responses.",
            )
        if not endpoint.throttle.take(loop.time()):
            return sim.refuse(arrival, "ThrottlingException")
        headers = {
            "Content-Type": "application/vnd.amazon.eventstream",
            "X-Amzn-SageMaker-Content-Type": request.headers.get(H_ACCEPT)
            or content_type(self.variants[(endpoint.name, variant.config.name)].config),
            "x-Amzn-Invoked-Production-Variant": variant.config.name,
            "x-amzn-RequestId": request_id,
        }
        streaming = self.variants[(endpoint.name, variant.config.name)]

        async def framed(response: web.StreamResponse, data: bytes) -> None:
            cuts = [0, *streaming.cuts(len(data)), len(data)]
            parts = b"".join(
                encode_message({**EVENT, **PAYLOAD_PART}, data[a:b])
                for a, b in itertools.pairwise(cuts)
            )
            await response.write(parts)

        async def fault(response: web.StreamResponse, code: str) -> None:
            message = EXCEPTION_MESSAGES.get(code)
            if message is not None:
                headers = {
                    ":message-type": "exception",
                    ":exception-type": code,
                    ":content-type": "application/json",
                }
                await response.write(encode_message(headers, message.encode()))

        overhead_s = variant.config.overhead_ms / 1000.0
        if overhead_s > 0:
            await asyncio.sleep(overhead_s)
        error, response = await self._generate(
            request, streaming, body, started, headers, framed, fault
        )
        status = 200 if response is not None else 503
        sim.stats.endpoint_response(ep_stats, status, error)
        sim.collector.record(
            endpoint.name, variant.config.name, status, None, loop.time() - started, overhead_s
        )
        if response is None:
            return sim.answer_error("ServiceUnavailable", errors.OVERLOAD_MESSAGE, request_id)
        return response

    @staticmethod
    def _variant(endpoint: Endpoint, target: str | None) -> Variant | None:
        if target:
            return endpoint.variants.get(target)
        return endpoint.choose_variant()

    # ------------------------------------------------------------------ OpenAI

    async def openai(self, request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        started = loop.time()
        body = await request.read()
        try:
            document = json.loads(body or b"{}")
        except ValueError:
            return web.json_response({"error": {"message": "body is not JSON"}}, status=400)
        if not isinstance(document, dict) or document.get("stream") is not True:
            message = 'this simulated server only streams: send "stream": true'
            return web.json_response({"error": {"message": message}}, status=400)
        streaming = self._openai_variant(document.get("model"))
        if streaming is None:
            message = "no simulated endpoint has a streaming variant"
            return web.json_response({"error": {"message": message}}, status=404)
        headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}

        async def plain(response: web.StreamResponse, data: bytes) -> None:
            await response.write(data)

        async def no_event(response: web.StreamResponse, code: str) -> None:
            return None

        _, response = await self._generate(
            request, streaming, body, started, headers, plain, no_event, openai=True
        )
        if response is None:
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        return response

    def _openai_variant(self, model: Any) -> StreamingVariant | None:
        for (endpoint, _), streaming in self.variants.items():
            if endpoint == model:
                return streaming
        return next(iter(self.variants.values()), None)

    # ------------------------------------------------------------------ generation

    async def _generate(
        self,
        request: web.Request,
        streaming: StreamingVariant,
        body: bytes,
        started: float,
        headers: dict[str, str],
        send: Any,
        fault_event: Any,
        openai: bool = False,
    ) -> tuple[str | None, web.StreamResponse | None]:
        """Wait for a slot, prefill, decode; (failure name or None, response or None if
        turned away because the instance's queue is full)."""
        loop = asyncio.get_running_loop()
        cfg = streaming.config
        try:
            document = json.loads(body or b"{}")
        except ValueError:
            document = {}
        input_tokens = input_tokens_of(document)
        total = max_tokens_of(document, cfg)
        renderer = Renderer("openai" if openai else cfg.format, document, input_tokens)
        instance = streaming.pick()
        if instance.active >= instance.slots and len(instance.waiters) >= streaming.queue_depth:
            return "ServiceUnavailable", None
        fault, cut_at = streaming.draw_fault(total)
        if openai and fault in ("ModelStreamError", "InternalStreamFailure"):
            fault = "GenerationError"
        await instance.acquire()
        sent = 0
        first: float | None = None
        try:
            response = web.StreamResponse(status=200, headers=headers)
            await response.prepare(request)
            deadline = loop.time() + streaming.prefill_s(input_tokens)
            for index in range(total):
                if fault is not None and index == cut_at:
                    break
                if index:
                    deadline += streaming.decode_s(instance)
                delay = deadline - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                now = loop.time()
                deadline = max(deadline, now)  # a late step delays the next ones (as a GPU)
                if first is None:
                    first = now
                await send(response, renderer.token(index, total))
                sent += 1
            if fault is None:
                closing = renderer.closing(total)
                if closing:
                    await send(response, closing)
            elif fault == "GenerationError":
                await send(response, renderer.error())
            else:
                await fault_event(response, fault)
            end = loop.time()
        finally:
            instance.release()
        await response.write_eof()
        self.stats.record(
            arrival=started,
            ttft_s=None if first is None else first - started,
            end_s=end - started,
            tokens=sent,
            input_tokens=input_tokens,
            error=fault,
        )
        return fault, response
