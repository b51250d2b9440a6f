"""The scraper's requests, parsing, error classification and end-of-test wait.

botocore's Stubber checks the exact GetMetricData requests (namespaces, dimensions,
statistics, periods, time range) and answers with canned results, including the
percentile statistics moto cannot compute and the errors a real account returns.
"""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from endpoint_loadtest.api.models import EndpointLoadTestSpec
from endpoint_loadtest.observability import cloudwatch as cw

START = 1_699_999_980.0  # a multiple of 60
END = START + 150.0  # 2.5 minutes: periods of 60 s end at +180


def spec(period: int = 60, **target) -> EndpointLoadTestSpec:
    return EndpointLoadTestSpec.model_validate(
        {
            "target": {"sagemaker": {"endpointName": "ep", "region": "eu-west-1", **target}},
            "payload": {"body": "{}"},
            "load": {"users": 1, "duration": "1s"},
            "cloudwatch": {"enabled": True, "period": period, "instanceVcpus": 48},
        }
    )


def client():
    return boto3.session.Session().client(
        "cloudwatch",
        region_name="eu-west-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def result(query_id: str, *values: float, times=None, status="Complete") -> dict:
    stamps = times or [at(START)] * len(values)
    return {"Id": query_id, "Timestamps": stamps, "Values": list(values), "StatusCode": status}


STANDARD = {
    "model_latency_avg": 21_500.0,  # microseconds
    "overhead_latency_avg": 2_000.0,
    "invocations": 9000.0,
    "invocations_per_instance": 4500.0,
    "errors_4xx": 3.0,
    "errors_5xx": 45.0,
    "cpu_max": 4464.0,  # 93% of 48 vCPUs
    "cpu_avg": 3000.0,
    "memory_max": 41.5,
}
PERCENTILES = {
    "model_latency_p50": 18_000.0,
    "model_latency_p90": 30_000.0,
    "model_latency_p99": 45_250.0,
    "overhead_latency_p50": 1_900.0,
    "overhead_latency_p90": 2_100.0,
    "overhead_latency_p99": 2_500.0,
}


def standard_response(last_period_published: bool = True, cpu_ahead: bool = False) -> dict:
    probes = [at(START), at(START + 60)] + ([at(START + 120)] if last_period_published else [])
    cpu = [*probes, at(START + 120)] if cpu_ahead else probes
    return {
        "MetricDataResults": [result(k, v) for k, v in STANDARD.items()]
        + [result("gpu_max"), result("gpu_memory_max")]
        + [result("probe_invocations", *[1.0] * len(probes), times=probes)]
        + [result("probe_cpu", *[1.0] * len(cpu), times=cpu)]
    }


def expected_standard(variant: str = "AllTraffic") -> dict:
    dims = [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": variant}]
    queries = []
    for query_id, namespace, metric, stat in cw.STANDARD_QUERIES + cw.PROBE_QUERIES:
        queries.append(
            {
                "Id": query_id,
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
                    # the figures over one period spanning the window; probes per minute
                    "Period": 60 if query_id.startswith("probe") else 180,
                    "Stat": stat,
                },
                "ReturnData": True,
            }
        )
    return {
        "MetricDataQueries": queries,
        "StartTime": at(START),
        "EndTime": at(START + 180),
        "ScanBy": "TimestampAscending",
    }


def test_batched_queries_units_and_figures():
    cloudwatch = client()
    with Stubber(cloudwatch) as stub:
        stub.add_response("get_metric_data", standard_response(), expected_standard("blue"))
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [result(k, v) for k, v in PERCENTILES.items()]},
            {
                "MetricDataQueries": ANY,
                "StartTime": at(START),
                "EndTime": at(START + 180),
                "ScanBy": "TimestampAscending",
            },
        )
        scrape = cw.scrape_window(spec(variantName="blue"), START + 5, END, client=cloudwatch)
        assert scrape.figures is not None, scrape.reason
        stub.assert_no_pending_responses()
    figures = scrape.figures
    assert scrape.problem is None, scrape.reason
    assert figures.variant_name == "blue" and figures.complete
    assert (figures.start, figures.end) == (at(START), at(START + 180))
    assert figures.model_latency_ms.model_dump() == {
        "average": 21.5,
        "p50": 18.0,
        "p90": 30.0,
        "p99": 45.25,
    }
    assert figures.overhead_latency_ms.p99 == 2.5
    assert figures.invocations == 9000 and figures.invocation_5xx_errors == 45
    assert figures.error_5xx_rate == 0.005
    assert figures.cpu_utilization_percent == 4464
    assert figures.instance_cpu_percent == 93.0 and figures.saturated is True
    assert figures.missing == []


def test_percentile_request_shape():
    queries = cw.build_queries("ep", "AllTraffic", cw.PERCENTILE_QUERIES, 180)
    assert {q["MetricStat"]["Stat"] for q in queries} == {"p50", "p90", "p99"}
    assert {q["MetricStat"]["Metric"]["MetricName"] for q in queries} == {
        "ModelLatency",
        "OverheadLatency",
    }
    assert all(q["MetricStat"]["Metric"]["Namespace"] == "AWS/SageMaker" for q in queries)
    assert all(q["Id"][0].islower() for q in queries)


def test_access_denied_is_a_reason():
    cloudwatch = client()
    with Stubber(cloudwatch) as stub:
        stub.add_client_error(
            "get_metric_data",
            service_error_code="AccessDenied",
            service_message="User: arn:aws:sts::1:assumed-role/elt/x is not authorized to "
            "perform: cloudwatch:GetMetricData",
            http_status_code=403,
        )
        scrape = cw.scrape_window(spec(), START, END, client=cloudwatch)
    assert scrape.figures is None and not scrape.retryable
    condition = scrape.condition()
    assert (condition.type, condition.status, condition.reason) == (
        "CloudWatchAvailable",
        "False",
        "AccessDenied",
    )
    assert "cloudwatch:GetMetricData" in condition.message


def test_throttling_is_retryable_and_percentile_failure_keeps_the_rest():
    cloudwatch = client()
    with Stubber(cloudwatch) as stub:
        stub.add_client_error("get_metric_data", "ThrottlingException", "Rate exceeded", 400)
        throttled = cw.scrape_window(spec(), START, END, client=cloudwatch)
        stub.add_response("get_metric_data", standard_response(), expected_standard())
        stub.add_client_error("get_metric_data", "InternalFailure", "boom", 500)
        partial = cw.scrape_window(spec(), START, END, client=cloudwatch)
    assert throttled.figures is None and throttled.problem.code == "Throttled"
    assert throttled.retryable
    assert partial.figures.invocations == 9000 and partial.figures.model_latency_ms.p99 is None
    assert partial.problem.code == "CloudWatchError" and "percentiles" in partial.reason


def test_forbidden_results_and_unpublished_last_period():
    cloudwatch = client()
    forbidden = {
        "MetricDataResults": [
            result(q[0], status="Forbidden") for q in cw.STANDARD_QUERIES + cw.PROBE_QUERIES
        ]
    }
    with Stubber(cloudwatch) as stub:
        stub.add_response("get_metric_data", forbidden)
        stub.add_response("get_metric_data", {"MetricDataResults": []})
        denied = cw.scrape_window(spec(), START, END, client=cloudwatch)
        stub.add_response("get_metric_data", standard_response(last_period_published=False))
        stub.add_response("get_metric_data", {"MetricDataResults": []})
        late = cw.scrape_window(spec(), START, END, client=cloudwatch)
    assert denied.figures is None and denied.problem.code == "AccessDenied"
    assert late.figures is not None and not late.complete and late.retryable
    assert late.condition().reason == "Partial"


def test_pagination_joins_pages():
    cloudwatch = client()
    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [result("a", 1.0, status="PartialData")], "NextToken": "t"},
        )
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [result("a", 2.0, times=[at(START + 60)])]},
            {
                "MetricDataQueries": [],
                "StartTime": at(START),
                "EndTime": at(END),
                "ScanBy": "TimestampAscending",
                "NextToken": "t",
            },
        )
        data = cw.get_metric_data(cloudwatch, [], START, END)
    assert data["a"]["values"] == [1.0, 2.0] and data["a"]["status"] == "Complete"


def test_http_targets_have_no_cloudwatch():
    http = EndpointLoadTestSpec.model_validate(
        {
            "target": {"http": {"url": "http://x/predict"}},
            "payload": {"body": "{}"},
            "load": {"users": 1, "duration": "1s"},
        }
    )
    assert cw.scrape_window(http, START, END).problem.code == "NotSageMaker"


@pytest.mark.parametrize(
    ("span", "period", "expected"),
    [
        (150, 60, 180),
        (60, 60, 60),
        (0.5, 1, 1),
        (2.2, 1, 5),
        (12, 10, 30),
        (31, 1, 60),
        (45, 30, 60),
    ],
)
def test_summary_period_is_one_getmetricdata_accepts(span, period, expected):
    assert cw.summary_period(span, period) == expected


def test_final_wait_is_a_function_of_times():
    end, period, timeout = START + 150.0, 60, 120.0  # last period: [+120, +180)
    before = cw.final_wait(end, period, timeout, now=end + 1, complete=False)
    assert not before.done and before.retry_after == pytest.approx(29.0)  # until it closes
    polling = cw.final_wait(end, period, timeout, now=START + 200, complete=False)
    assert not polling.done and polling.retry_after == 15.0  # quarter period, at most 15 s
    assert "waiting up to 100s" in polling.message
    near = cw.final_wait(end, period, timeout, now=START + 295, complete=False)
    assert near.retry_after == pytest.approx(5.0)  # never past the deadline
    given_up = cw.final_wait(end, period, timeout, now=START + 300, complete=False)
    assert given_up.done and "120s after it ended" in given_up.message
    published = cw.final_wait(end, period, timeout, now=START + 181, complete=True)
    assert published.done and "has published" in published.message
    short = cw.final_wait(START + 2.0, 1, 5.0, now=START + 3.2, complete=False)
    assert short.retry_after == 1.0  # one-second periods poll every second


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_final_scrape_waits_for_the_last_period_then_judges(monkeypatch):
    clock = FakeClock(END + 1)
    answers = iter([False, False, True])
    scraped_at: list[float] = []

    def fake_scrape(spec_, start, end, client=None):
        scraped_at.append(clock.now)
        complete = next(answers)
        figures = cw.CloudWatchResults(
            endpoint_name="ep",
            variant_name="AllTraffic",
            start=at(START),
            end=at(START + 180),
            period_seconds=60,
            complete=complete,
            invocations=1.0,
        )
        return cw.Scrape(figures)

    monkeypatch.setattr(cw, "scrape_window", fake_scrape)
    notes: list[str] = []
    scrape, decision = cw.final_scrape(
        spec(), START, END, clock=clock, sleep=clock.sleep, note=notes.append
    )
    assert scrape.complete and decision.done
    assert scraped_at == [START + 180, START + 195, START + 210]  # not before it closes
    assert len(notes) == 1 and "waiting up to 209s" in notes[0]


def test_final_scrape_gives_up_at_the_bound(monkeypatch):
    clock = FakeClock(END + 1)
    monkeypatch.setattr(
        cw,
        "scrape_window",
        lambda *a, **k: cw.Scrape(None, cw.Problem("NoData", "nothing", retryable=True)),
    )
    scrape, decision = cw.final_scrape(spec(), START, END, clock=clock, sleep=clock.sleep)
    assert scrape.figures is None and decision.done
    assert clock.now == START + 180 + 180  # the default lastPeriodTimeout: 3m after it closed


def test_final_scrape_does_not_wait_when_denied(monkeypatch):
    clock = FakeClock(START + 200)
    monkeypatch.setattr(
        cw, "scrape_window", lambda *a, **k: cw.Scrape(None, cw.Problem("AccessDenied", "no"))
    )
    scrape, _ = cw.final_scrape(spec(), START, END, clock=clock, sleep=clock.sleep)
    assert scrape.problem.code == "AccessDenied" and clock.sleeps == []


def test_utilization_ahead_of_invocations_is_not_complete():
    """The instance namespace can arrive before the invocations of the same period."""
    cloudwatch = client()
    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "get_metric_data", standard_response(last_period_published=False, cpu_ahead=True)
        )
        stub.add_response("get_metric_data", {"MetricDataResults": []})
        scrape = cw.scrape_window(spec(), START, END, client=cloudwatch)
    assert scrape.figures is not None and not scrape.complete


def test_final_step_for_a_reconcile_loop(monkeypatch):
    answers = iter(
        [
            cw.Scrape(None, cw.Problem("NoData", "nothing yet", retryable=True)),
            cw.Scrape(None, cw.Problem("AccessDenied", "denied")),
        ]
    )
    monkeypatch.setattr(cw, "scrape_window", lambda *a, **k: next(answers))
    early, decision = cw.final_step(spec(), START, END, now=END + 1)
    assert early is None and not decision.done and decision.retry_after == pytest.approx(29)
    pending, decision = cw.final_step(spec(), START, END, now=START + 200)
    assert pending.figures is None and not decision.done and decision.retry_after == 15
    denied, decision = cw.final_step(spec(), START, END, now=START + 215)
    assert decision.done and denied.condition().reason == "AccessDenied"


def test_live_scrapes_every_period_at_least_15_seconds_apart():
    assert cw.live_due(spec(), None, START)
    assert not cw.live_due(spec(), START, START + 59)
    assert cw.live_due(spec(), START, START + 60)
    assert cw.live_due(spec(period=1), START, START + 15)
    assert not cw.live_due(spec(period=1), START, START + 14)


def test_error_bodies_are_made_brief():
    from botocore.exceptions import ClientError

    html = "<!doctype html><title>500 Internal Server Error</title><p>" + "x" * 500 + "</p>"
    error = ClientError(
        {"Error": {"Code": "500", "Message": html}, "ResponseMetadata": {"HTTPStatusCode": 500}},
        "GetMetricData",
    )
    problem = cw.classify(error)
    assert problem.retryable and "<" not in problem.message and len(problem.message) < 260
    xml = "<ErrorResponse><Error><Code>AccessDenied</Code><Message>not authorized</Message>"
    denied = ClientError(
        {"Error": {"Code": "403", "Message": xml}, "ResponseMetadata": {"HTTPStatusCode": 403}},
        "GetMetricData",
    )
    assert cw.classify(denied).code == "AccessDenied"
    assert "not authorized" in cw.classify(denied).message


def test_one_session_for_every_region(monkeypatch):
    made = []
    real = boto3.session.Session

    def counting(*args, **kwargs):
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(boto3.session, "Session", counting)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    east, west = cw.cloudwatch_client("us-east-1"), cw.cloudwatch_client("eu-west-1")
    assert (east.meta.region_name, west.meta.region_name) == ("us-east-1", "eu-west-1")
    assert cw.cloudwatch_client("us-east-1") is east  # cached per region
    assert len(made) == 1
