"""Locust users for streamed targets: the time to the stream's end is the request's latency,
and the stream's own figures (TTFT, TPOT, tokens) go to streaming/window.py.

- FastSageMakerStreamUser: InvokeEndpointWithResponseStream SigV4-signed over
  geventhttpclient (the request botocore would send, see sigv4_client.py), the event
  stream decoded incrementally with both CRCs checked (eventstream.py);
- SageMakerBoto3StreamUser: boto3 invoke_endpoint_with_response_stream, iterating the
  EventStream;
- HttpStreamUser: any HTTP server streaming lines (OpenAI-compatible SSE, TGI, LMI).

A failure inside the stream is a failure of the request, named by its type:
ModelStreamError / InternalStreamFailure (SageMaker's exception events), GenerationError
(an error the model server wrote into the stream), TruncatedStream (the stream ended
without its final event, or the connection broke after the response began).
Figures reach the window through `measured(phase)`, which the caller invokes with the
phase the request started in, in the same greenlet, right after `call`.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import gevent

from endpoint_loadtest.loadgen.config import LoadgenConfig
from endpoint_loadtest.loadgen.errors import (
    CONNECTION_ERROR,
    TIMEOUT,
    RequestFailure,
    classify_boto_error,
    classify_http_status,
)
from endpoint_loadtest.loadgen.streaming.bodies import prepare_payload
from endpoint_loadtest.loadgen.streaming.eventstream import EventStreamDecoder, EventStreamError
from endpoint_loadtest.loadgen.streaming.formats import AUTO, MALFORMED_STREAM, TRUNCATED_STREAM
from endpoint_loadtest.loadgen.streaming.timing import StreamFigures, StreamTimer
from endpoint_loadtest.loadgen.streaming.window import WORKER
from endpoint_loadtest.loadgen.users import EndpointUser, FastSageMakerUser, HttpTargetUser

STREAM_OPERATION = "InvokeEndpointWithResponseStream"
# Figures of the call just made, by greenlet, until measured() files them under the phase.
_PENDING: dict[Any, StreamFigures] = {}


class StreamingUser(EndpointUser):
    abstract = True
    stream_format: ClassVar[str] = AUTO

    @classmethod
    def configure_stream(cls, config: LoadgenConfig) -> None:
        stream = config.target.get("stream") or {}
        cls.stream_format = stream.get("format", AUTO)
        prepare_payload(config.payload, cls.stream_format, stream.get("includeUsage", True))
        WORKER.slo = dict(config.target.get("slo") or {})

    def measured(self, phase: str) -> None:
        figures = _PENDING.pop(gevent.getcurrent(), None)
        if figures is not None:
            WORKER.record(phase, figures)

    @staticmethod
    def _finished(timer: StreamTimer) -> None:
        _PENDING[gevent.getcurrent()] = timer.finish(time.perf_counter())


def read_available(response: Any) -> bytes:
    """The body bytes that have arrived (at least one), b"" once the body is complete.

    geventhttpclient's read(n) waits for n bytes and its iterator for a whole block:
    neither hands over a token as soon as it arrives. This reads one socket block at a
    time into the response's parser (which removes the chunked framing) and returns what
    the parser has, so each token is timed when it arrives, at one recv per arrival."""
    buffer = response._body_buffer
    while not buffer and not response.message_complete:
        sock = response._sock
        if sock is None:
            raise ConnectionError("connection closed before the end of the body")
        data = sock.recv(response.block_size)
        if not data:
            raise ConnectionError("connection closed before the end of the body")
        response.feed(data)
    data = bytes(buffer)
    del buffer[:]
    return data


def _discard(response: Any) -> None:
    """Close a connection whose response was not read to its end (never reuse it)."""
    if not response.message_complete:
        sock, pool = getattr(response, "_sock", None), getattr(response, "_pool", None)
        if sock is not None and pool is not None:
            pool.release_socket(sock)
            response._sock = response._pool = None
    response.release()


def _exception_failure(message: Any) -> RequestFailure:
    headers = message.headers
    if message.message_type == "exception":
        return RequestFailure(str(headers.get(":exception-type") or "StreamException"))
    return RequestFailure(str(headers.get(":error-code") or "StreamError"))


class FastSageMakerStreamUser(StreamingUser, FastSageMakerUser):
    """InvokeEndpointWithResponseStream, signed per call, event stream decoded here."""

    abstract = True
    base_request_type = STREAM_OPERATION
    operation = STREAM_OPERATION

    @classmethod
    def configure(cls, config: LoadgenConfig) -> None:
        cls.configure_stream(config)  # first: the bodies' hashes are of the prepared bodies
        super().configure(config)

    def call(self, body: bytes) -> int:
        from endpoint_loadtest.loadgen.sigv4_client import classify_aws_error, payload_hash

        body_hash = self._hashes.get(body) or payload_hash(body)
        headers = self._signer.headers(body_hash)
        timer = StreamTimer(time.perf_counter(), self.stream_format)
        try:
            response = self._client.request("POST", self._path, body=body, headers=headers)
        except (TimeoutError, gevent.Timeout):
            raise RequestFailure(TIMEOUT) from None
        except OSError:
            raise RequestFailure(CONNECTION_ERROR) from None
        if response.status_code >= 400:
            data = response.read()
            raise classify_aws_error(response.status_code, response.get("x-amzn-ErrorType"), data)
        length = 0
        decoder = EventStreamDecoder()
        try:
            while data := read_available(response):
                length += len(data)
                now = time.perf_counter()
                for message in decoder.feed(data):
                    if message.message_type != "event":
                        raise _exception_failure(message)
                    if message.event_type == "PayloadPart":
                        timer.feed(message.payload, now)
            if decoder.pending:
                raise RequestFailure(TRUNCATED_STREAM)
        except RequestFailure:
            _discard(response)
            raise
        except EventStreamError:
            _discard(response)
            raise RequestFailure(MALFORMED_STREAM) from None
        except (TimeoutError, gevent.Timeout):
            _discard(response)
            raise RequestFailure(TIMEOUT) from None
        except Exception:  # the connection broke after the response began
            _discard(response)
            raise RequestFailure(TRUNCATED_STREAM) from None
        self._finished(timer)
        return length


class SageMakerBoto3StreamUser(StreamingUser):
    """boto3 invoke_endpoint_with_response_stream, retries off, iterating the EventStream."""

    abstract = True
    base_request_type = STREAM_OPERATION
    _client: ClassVar[Any] = None
    _invoke_kwargs: ClassVar[dict[str, str]] = {}

    @classmethod
    def configure(cls, config: LoadgenConfig) -> None:
        from endpoint_loadtest.loadgen import sigv4_client as sig

        cls.configure_stream(config)
        cls.config = config
        timeout = config.schedule.request_timeout_seconds
        cls._client = sig.botocore_client(
            config.target["region"], timeout, config.schedule.peak_users
        )
        cls._invoke_kwargs = sig.invoke_kwargs_for(config.target)

    def call(self, body: bytes) -> int:
        timer = StreamTimer(time.perf_counter(), self.stream_format)
        try:
            response = self._client.invoke_endpoint_with_response_stream(
                Body=body, **self._invoke_kwargs
            )
        except Exception as error:  # every failure is reported, none may kill the user
            raise classify_boto_error(error) from None
        length = 0
        stream = response["Body"]
        try:
            for event in stream:
                part = event.get("PayloadPart")
                if part is None:
                    name = next(iter(event), "StreamException")
                    raise RequestFailure(name)
                data = part.get("Bytes", b"")
                length += len(data)
                timer.feed(data, time.perf_counter())
        except RequestFailure:
            stream.close()
            raise
        except Exception as error:
            stream.close()
            failure = classify_boto_error(error)
            if failure.name in (TIMEOUT,):
                raise failure from None
            if failure.name.split(" ")[0] in ("ModelStreamError", "InternalStreamFailure"):
                raise RequestFailure(failure.name.split(" ")[0]) from None
            raise RequestFailure(TRUNCATED_STREAM) from None
        self._finished(timer)
        return length


class HttpStreamUser(StreamingUser, HttpTargetUser):
    """An HTTP server streaming lines (SSE or JSON lines), over geventhttpclient."""

    abstract = True

    @classmethod
    def configure(cls, config: LoadgenConfig) -> None:
        cls.configure_stream(config)
        super().configure(config)
        cls._headers = {"Accept": "text/event-stream", **cls._headers}

    def call(self, body: bytes) -> int:
        timer = StreamTimer(time.perf_counter(), self.stream_format)
        try:
            response = self._client.request(
                self._method, self._path, body=body, headers=self._headers
            )
        except (TimeoutError, gevent.Timeout):
            raise RequestFailure(TIMEOUT) from None
        except OSError:
            raise RequestFailure(CONNECTION_ERROR) from None
        if response.status_code >= 400:
            response.read()
            raise classify_http_status(response.status_code)
        length = 0
        try:
            while True:
                line = response.readline(b"\n")
                if not line:
                    break
                length += len(line)
                timer.feed(line, time.perf_counter())
        except RequestFailure:
            _discard(response)
            raise
        except (TimeoutError, gevent.Timeout):
            _discard(response)
            raise RequestFailure(TIMEOUT) from None
        except Exception:
            _discard(response)
            raise RequestFailure(TRUNCATED_STREAM) from None
        self._finished(timer)
        return length


def streaming_user_base(config: LoadgenConfig) -> type[EndpointUser]:
    """The streaming user class for the plan's target and client (not yet configured)."""
    if config.target_kind != "sagemaker":
        return HttpStreamUser
    if config.client == "boto3":
        return SageMakerBoto3StreamUser
    return FastSageMakerStreamUser
