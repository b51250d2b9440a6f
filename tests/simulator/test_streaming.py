"""Streaming endpoints of `elt simulate`, read by boto3's own event-stream parser and by
plain HTTP; the simulator's truth is what it wrote."""

from __future__ import annotations

import json
import urllib.request

import pytest
from botocore.exceptions import EventStreamError

from endpoint_loadtest.loadgen.streaming.timing import StreamTimer

PROMPT = {"inputs": "one two three four five six seven eight", "parameters": {"max_new_tokens": 12}}


def streaming_endpoint(name: str, **streaming) -> dict:
    model = {"decodeMs": 2, "prefillMs": 5, "partsPerToken": 3, **streaming}
    return {"name": name, "variants": [{"overheadMs": 0, "streaming": model}]}


@pytest.fixture
def stream_sim(simulator):
    return simulator(
        config={
            "seed": 7,
            "endpoints": [
                streaming_endpoint("llm-jsonlines", format="jsonlines"),
                streaming_endpoint("llm-tgi", format="tgi"),
                streaming_endpoint("llm-broken", errors={"ModelStreamError": 1.0}),
                streaming_endpoint("llm-internal", errors={"InternalStreamFailure": 1.0}),
                streaming_endpoint("llm-lmi-error", errors={"GenerationError": 1.0}),
                streaming_endpoint("llm-cut", errors={"TruncatedStream": 1.0}),
                {"name": "plain", "variants": [{}]},
            ],
        }
    )


def streams(sim) -> dict:
    with urllib.request.urlopen(f"{sim.url}/_simulator/streams?records=1", timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.parametrize("endpoint", ["llm-jsonlines", "llm-tgi"])
def test_boto3_reads_every_token(stream_sim, endpoint: str) -> None:
    client = stream_sim.client()
    response = client.invoke_endpoint_with_response_stream(
        EndpointName=endpoint, Body=json.dumps(PROMPT), Accept="application/jsonlines"
    )
    assert response["ContentType"] == "application/jsonlines"
    timer = StreamTimer(0.0, "auto")
    parts = 0
    for event in response["Body"]:
        parts += 1
        timer.feed(event["PayloadPart"]["Bytes"], 0.001 * parts)
    figures = timer.finish(1.0)
    assert timer.parser.format == endpoint.split("-")[1]
    assert figures.output_tokens == 12 == timer.counted
    assert parts > 12  # tokens cut into several PayloadParts each
    truth = streams(stream_sim)
    assert truth["completed"] == 1 and truth["output_tokens"] == 12
    assert truth["input_tokens"] == 8
    record = truth["records"][0]
    # prefill 5 ms + 0.2 ms x 8 input tokens; then 11 decode steps of 2 ms
    assert record["ttftMs"] >= 6.6
    assert record["tpotMs"] >= 2.0


@pytest.mark.parametrize(
    ("endpoint", "code"),
    [("llm-broken", "ModelStreamError"), ("llm-internal", "InternalStreamFailure")],
)
def test_exception_events_reach_boto3(stream_sim, endpoint: str, code: str) -> None:
    client = stream_sim.client()
    response = client.invoke_endpoint_with_response_stream(
        EndpointName=endpoint, Body=json.dumps(PROMPT)
    )
    with pytest.raises(EventStreamError) as raised:
        for _ in response["Body"]:
            pass
    assert raised.value.response["Error"]["Code"] == code
    assert streams(stream_sim)["by_error"] == {code: 1}


def test_lmi_error_token_and_truncation(stream_sim) -> None:
    client = stream_sim.client()
    for endpoint, failure in (("llm-lmi-error", "GenerationError"), ("llm-cut", "TruncatedStream")):
        response = client.invoke_endpoint_with_response_stream(
            EndpointName=endpoint, Body=json.dumps(PROMPT)
        )
        timer = StreamTimer(0.0, "jsonlines")
        with pytest.raises(Exception, match=failure):
            for event in response["Body"]:
                timer.feed(event["PayloadPart"]["Bytes"], 0.1)
            timer.finish(0.2)
    assert streams(stream_sim)["by_error"] == {"GenerationError": 1, "TruncatedStream": 1}


def test_a_plain_endpoint_does_not_stream(stream_sim) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="ValidationError"):
        stream_sim.client().invoke_endpoint_with_response_stream(EndpointName="plain", Body=b"{}")


@pytest.mark.parametrize("usage", [True, False])
def test_openai_route(stream_sim, usage: bool) -> None:
    body = {
        "model": "llm-tgi",
        "messages": [{"role": "user", "content": "a b c"}],
        "max_tokens": 5,
        "stream": True,
    }
    if usage:
        body["stream_options"] = {"include_usage": True}
    request = urllib.request.Request(
        f"{stream_sim.url}/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    timer = StreamTimer(0.0, "openai")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        for line in response:
            timer.feed(line, 0.1)
    figures = timer.finish(0.2)
    assert figures.output_tokens == 5
    assert figures.source == ("usage" if usage else "events")
    assert figures.input_tokens == (3 if usage else None)
