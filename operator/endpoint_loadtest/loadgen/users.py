"""Locust users that call the endpoint under test and report every call once.

Each call is timed with perf_counter and reported with one request event, named
by the phase it started in (see phases.py). Failures are named by SageMaker error
code and HTTP status (see errors.py). Retries are off: a throttled or failed call
is seen, not hidden. The AWS endpoint can be redirected only through botocore's
standard AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME variable.
"""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

import gevent
from locust import User, constant, task

from endpoint_loadtest.loadgen.call_report import attempt, report_call
from endpoint_loadtest.loadgen.config import LoadgenConfig
from endpoint_loadtest.loadgen.errors import (
    CONNECTION_ERROR,
    SAMPLES,
    TIMEOUT,
    RequestFailure,
    classify_boto_error,
    classify_http_status,
    timeout_detail,
)
from endpoint_loadtest.loadgen.headers import request_headers, secret_header_values, secret_values
from endpoint_loadtest.loadgen.phases import TRACKER

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 0.2


class EndpointUser(User):
    """Shared loop: pick a body, call, report; idle once the run is done."""

    abstract = True
    wait_time = constant(0)
    config: ClassVar[LoadgenConfig]
    base_request_type: ClassVar[str] = "Request"

    def call(self, body: bytes) -> int:
        """Send one request; return the response length or raise RequestFailure."""
        raise NotImplementedError

    def measured(self, phase: str) -> None:
        """After `call`, in its greenlet: file figures beyond the latency (streaming)."""

    @task
    def invoke(self) -> None:
        phase = TRACKER.begin()
        if phase is None:
            gevent.sleep(IDLE_POLL_SECONDS)
            return
        try:
            self._timed_call(phase)
        finally:
            # After the event fired: a worker flushing at the end of the window waits
            # for this count, so every request it made is in the statistics it sends.
            TRACKER.end(phase)

    def _timed_call(self, phase: str) -> None:
        body = self.config.payload.next()
        start_time = time.time()
        started = time.perf_counter()
        length, failure = attempt(self, body.data)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        report_call(
            self.environment, self, phase, body.name, length, failure, elapsed_ms, start_time
        )

    @classmethod
    def configure(cls, config: LoadgenConfig) -> None:
        """Take the plan; no error sample may echo what the requests carry."""
        cls.config = config
        SAMPLES.forbid(request_values(config))


class SageMakerBoto3User(EndpointUser):
    """AWS's load-testing practice's user: boto3 sagemaker-runtime invoke_endpoint, no retries."""

    abstract = True
    base_request_type = "InvokeEndpoint"
    _client: ClassVar[Any] = None
    _invoke_kwargs: ClassVar[dict[str, str]] = {}

    @classmethod
    def configure(cls, config: LoadgenConfig) -> None:
        import boto3
        from botocore.config import Config

        from endpoint_loadtest.loadgen.sigv4_client import invoke_kwargs_for

        target = config.target
        timeout = config.schedule.request_timeout_seconds
        super().configure(config)
        # One client per process: boto3 clients are thread- and greenlet-safe, and
        # creating one per user would cost seconds and megabytes at high user counts.
        cls._client = boto3.client(
            "sagemaker-runtime",
            region_name=target["region"],
            config=Config(
                retries={"max_attempts": 0},
                connect_timeout=min(10.0, timeout),
                read_timeout=timeout,
                max_pool_connections=max(10, config.schedule.peak_users),
                tcp_keepalive=True,
            ),
        )
        cls._invoke_kwargs = invoke_kwargs_for(target)

    def call(self, body: bytes) -> int:
        try:
            response = self._client.invoke_endpoint(Body=body, **self._invoke_kwargs)
            return len(response["Body"].read())
        except Exception as error:  # every failure is reported, none may kill the user
            raise classify_boto_error(error) from None


class HttpTargetUser(EndpointUser):
    """Any HTTP inference endpoint, over geventhttpclient (Locust's fast client)."""

    abstract = True
    base_request_type = "POST"
    _client: ClassVar[Any] = None
    _path: ClassVar[str] = "/"
    _method: ClassVar[str] = "POST"
    _headers: ClassVar[dict[str, str]] = {}

    @classmethod
    def configure(cls, config: LoadgenConfig) -> None:
        from geventhttpclient import URL

        target = config.target
        url = URL(target["url"])
        super().configure(config)
        cls.base_request_type = target.get("method", "POST")
        cls._method = target.get("method", "POST")
        cls._path = url.request_uri
        cls._headers = request_headers(target)
        cls._client = pooled_client(url, config)

    def call(self, body: bytes) -> int:
        try:
            response = self._client.request(
                self._method, self._path, body=body, headers=self._headers
            )
            data = response.read()
        except (TimeoutError, gevent.Timeout):
            raise RequestFailure(TIMEOUT, timeout_detail()) from None
        except OSError as error:
            raise RequestFailure(CONNECTION_ERROR, str(error)) from None
        if response.status_code >= 400:
            raise classify_http_status(response.status_code, data)
        return len(data)


class FastSageMakerUser(EndpointUser):
    """InvokeEndpoint as boto3 sends it, SigV4-signed per call, over geventhttpclient.

    The request template comes from botocore (endpoint resolution, headers, signed
    names, credential chain); see sigv4_client.py for what is precomputed.
    """

    abstract = True
    base_request_type = "InvokeEndpoint"
    operation: ClassVar[str] = "InvokeEndpoint"  # the sagemaker-runtime operation signed
    _client: ClassVar[Any] = None
    _signer: ClassVar[Any] = None
    _path: ClassVar[str] = "/"
    _hashes: ClassVar[dict[bytes, str]] = {}

    @classmethod
    def configure(cls, config: LoadgenConfig) -> None:
        from geventhttpclient import URL

        from endpoint_loadtest.loadgen import sigv4_client as sig

        target = config.target
        timeout = config.schedule.request_timeout_seconds
        super().configure(config)
        boto = sig.botocore_client(target["region"], timeout)
        template = sig.template_from_botocore(boto, sig.invoke_kwargs_for(target), cls.operation)
        cls._signer = sig.FastSigner(template, sig.client_credentials(boto), boto.meta.region_name)
        cls._path = template.path
        cls._hashes = {b.data: sig.payload_hash(b.data) for b in config.payload.bodies}
        cls._client = pooled_client(URL(template.url), config)

    def call(self, body: bytes) -> int:
        body_hash = self._hashes.get(body)
        if body_hash is None:
            from endpoint_loadtest.loadgen.sigv4_client import payload_hash

            body_hash = payload_hash(body)
        headers = self._signer.headers(body_hash)
        try:
            response = self._client.request("POST", self._path, body=body, headers=headers)
            data = response.read()
        except (TimeoutError, gevent.Timeout):
            raise RequestFailure(TIMEOUT, timeout_detail()) from None
        except OSError as error:
            raise RequestFailure(CONNECTION_ERROR, str(error)) from None
        status = response.status_code
        if status >= 400:
            from endpoint_loadtest.loadgen.sigv4_client import classify_aws_error

            raise classify_aws_error(status, response.get("x-amzn-ErrorType"), data)
        return len(data)


def pooled_client(url: Any, config: LoadgenConfig) -> Any:
    """A geventhttpclient pool sized for the process's users, with the plan's timeout."""
    from geventhttpclient import HTTPClient

    timeout = config.schedule.request_timeout_seconds
    return HTTPClient.from_url(
        url,
        concurrency=max(10, config.schedule.peak_users),
        connection_timeout=min(10.0, timeout),
        network_timeout=timeout,
    )


def _json_strings(text: str) -> list[str]:
    import json

    try:
        stack: list[Any] = [json.loads(text)]
    except ValueError:
        return []
    found: list[str] = []
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def request_values(config: LoadgenConfig) -> list[str]:
    """What the request itself carries (bodies, header and attribute values): an error
    sample that echoes one of them has it replaced (errors.ErrorSamples)."""
    target = config.target
    values = [body.data.decode("utf-8", errors="replace") for body in config.payload.bodies]
    for text in list(values):  # and each string inside a JSON body, echoed on its own
        values += _json_strings(text)
    values += [str(v) for v in (target.get("headers") or {}).values()]
    values += list(secret_header_values(target).values()) + secret_values(target)
    values += [str(target[k]) for k in ("customAttributes",) if target.get(k)]
    return values


CLIENTS = ("fast", "boto3")


def user_class_for(config: LoadgenConfig) -> type[EndpointUser]:
    """A concrete user class configured for this plan's target."""
    base: type[EndpointUser]
    if config.target.get("stream") is not None:
        from endpoint_loadtest.loadgen.streaming.users import streaming_user_base

        base = streaming_user_base(config)
    elif config.target_kind != "sagemaker":
        base = HttpTargetUser
    elif config.client == "boto3":
        base = SageMakerBoto3User
    else:
        base = FastSageMakerUser
    base.configure(config)
    return type("EndpointLoadTestUser", (base,), {"abstract": False, "__module__": __name__})
