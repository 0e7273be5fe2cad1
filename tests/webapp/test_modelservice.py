"""The model service client against a real socket: answers, garbage, slowness, silence,
for single reviews and batches."""

import json
import socket
import time

import pytest
from django.conf import settings as django_settings
from prometheus_client import REGISTRY

from tests.support.fake_model import answer_json
from webapp import modelservice


def test_sends_the_review_exactly_and_parses_the_answer(fake_model):
    review = 'Crème brûlée 🍮 was "perfect" — ¡olé!\n\tNo complaints.'
    answer = modelservice.analyze(review, request_id="abc-123", variant="B")
    assert answer == modelservice.ModelAnswer("positive", 0.875, "fake-1")
    [sent] = fake_model.received
    assert (sent.method, sent.path) == ("POST", "/analyze")
    assert sent.json() == {"review": review}
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["x-request-id"] == "abc-123"
    assert sent.headers["x-user-experiment"] == "B"


def test_no_experiment_header_outside_an_experiment(fake_model):
    modelservice.analyze("fine", request_id="r1")
    assert "x-user-experiment" not in fake_model.received[0].headers


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("0f8fe3c2-5b1e-4c1e-9b53-2f0c7a1d9e55", True),
        ("trace.42:span_7", True),
        ("", False),
        (None, False),
        ("evil\r\nx-injected: 1", False),
        ("spaces are not tokens", False),
        ("x" * 129, False),
    ],
)
def test_request_id_is_forwarded_only_when_safe(incoming, kept):
    request_id = modelservice.request_id_from(incoming)
    if kept:
        assert request_id == incoming
    else:
        assert len(request_id) == 32
        assert request_id != modelservice.request_id_from(incoming)


@pytest.mark.parametrize(
    ("status", "payload", "reason"),
    [
        (500, {"error": {"code": "internal_error", "message": "boom"}}, "http_error"),
        (503, {"error": {"code": "model_not_ready", "message": "loading"}}, "http_error"),
        (404, {"error": {"code": "not_found", "message": "nope"}}, "http_error"),
        (200, b"<html>surprise</html>", "bad_response"),
        (200, b"", "bad_response"),
        (200, ["positive", 0.9], "bad_response"),
        (200, {"sentiment": "neutral", "confidence": 0.9, "model_version": "m"}, "bad_response"),
        (200, {"sentiment": "POSITIVE", "confidence": 0.9, "model_version": "m"}, "bad_response"),
        (200, {"sentiment": "positive", "confidence": 1.5, "model_version": "m"}, "bad_response"),
        (200, {"sentiment": "positive", "confidence": -0.1, "model_version": "m"}, "bad_response"),
        (200, {"sentiment": "positive", "confidence": "0.9", "model_version": "m"}, "bad_response"),
        (200, {"sentiment": "positive", "confidence": True, "model_version": "m"}, "bad_response"),
        (
            200,
            b'{"sentiment": "positive", "confidence": NaN, "model_version": "m"}',
            "bad_response",
        ),
        (200, {"sentiment": "positive", "confidence": 0.9}, "bad_response"),
        (200, {"sentiment": "positive", "confidence": 0.9, "model_version": ""}, "bad_response"),
        (
            200,
            {"sentiment": "positive", "confidence": 0.9, "model_version": "m" * 65},
            "bad_response",
        ),
    ],
)
def test_unusable_answers_are_refused_with_a_reason(fake_model, status, payload, reason):
    fake_model.answer(status, payload)
    with pytest.raises(modelservice.ModelServiceError) as caught:
        modelservice.analyze("fine", request_id="r1")
    assert caught.value.reason == reason


def test_a_slow_answer_times_out(fake_model, settings):
    settings.MODEL_SERVICE_READ_TIMEOUT = 0.2
    fake_model.answer_slowly(2.0)
    started = time.monotonic()
    with pytest.raises(modelservice.ModelServiceError) as caught:
        modelservice.analyze("fine", request_id="r1")
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 1.5  # gave up long before the answer came
    assert len(fake_model.received) == 1


def test_a_connection_that_is_never_accepted_times_out(settings):
    # A listener whose accept queue is full drops further SYNs: the connect hangs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(listener.getsockname())
        time.sleep(0.1)
        settings.MODEL_SERVICE_URL = f"http://127.0.0.1:{listener.getsockname()[1]}"
        settings.MODEL_SERVICE_CONNECT_TIMEOUT = 0.3
        settings.MODEL_SERVICE_RETRIES = 1
        started = time.monotonic()
        with pytest.raises(modelservice.ModelServiceError) as caught:
            modelservice.analyze("fine", request_id="r1")
        for filler in fillers:
            filler.close()
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 3


def test_a_refused_connection_is_unavailable(dead_model):
    with pytest.raises(modelservice.ModelServiceError) as caught:
        modelservice.analyze("fine", request_id="r1")
    assert caught.value.reason == "unavailable"


def test_a_request_that_reached_the_server_is_never_sent_again(fake_model, settings):
    settings.MODEL_SERVICE_RETRIES = 3
    fake_model.hang_up()
    with pytest.raises(modelservice.ModelServiceError) as caught:
        modelservice.analyze("fine", request_id="r1")
    assert caught.value.reason == "unavailable"
    assert len(fake_model.received) == 1


def test_only_connection_failures_are_retried(settings):
    settings.MODEL_SERVICE_RETRIES = 3
    retry = modelservice._pool(settings.MODEL_SERVICE_RETRIES).connection_pool_kw["retries"]
    assert retry.connect == 3
    assert retry.read is False
    assert retry.status == 0
    assert retry.other == 0
    assert "POST" in retry.allowed_methods


def test_the_pool_is_shared(settings):
    assert modelservice._pool(settings.MODEL_SERVICE_RETRIES) is modelservice._pool(
        settings.MODEL_SERVICE_RETRIES
    )


def test_version_returns_the_model_service_answer(fake_model):
    assert modelservice.version(request_id="r1") == {
        "service": "sentiment-model",
        "model_version": "fake-1",
    }
    fake_model.answer(200, json.dumps([1, 2]).encode())
    with pytest.raises(modelservice.ModelServiceError) as caught:
        modelservice.version(request_id="r1")
    assert caught.value.reason == "bad_response"


def errors_counted(reason: str) -> float:
    labels = {"app_version": django_settings.APP_VERSION, "model_variant": "v1", "reason": reason}
    return REGISTRY.get_sample_value("sentiment_app_model_errors_total", labels) or 0.0


@pytest.mark.parametrize(
    ("status", "error", "reason"),
    [
        (503, modelservice.ModelServiceUnavailable, "http_error"),
        (500, modelservice.ModelServiceUnavailable, "http_error"),
        (429, modelservice.ModelServiceUnavailable, "http_error"),
        (404, modelservice.ModelServiceRejected, "http_error"),
        (400, modelservice.ModelServiceRejected, "http_error"),
    ],
)
def test_single_and_batch_failures_are_classified_and_counted_alike(
    fake_model, status, error, reason
):
    fake_model.answer(status, {"error": {"code": "x", "message": "y"}})
    before = errors_counted(reason)
    with pytest.raises(error):
        modelservice.analyze("fine", request_id="r1")
    with pytest.raises(error):
        modelservice.analyze_batch(["fine"], request_id="batch-1")
    assert errors_counted(reason) == before + 2


def test_no_connection_is_transient_and_counted_once(dead_model):
    before = errors_counted("unavailable")
    with pytest.raises(modelservice.ModelServiceUnavailable):
        modelservice.analyze_batch(["fine"], request_id="batch-1")
    assert errors_counted("unavailable") == before + 1


def test_a_failed_version_probe_is_not_counted_as_a_failed_prediction(fake_model):
    fake_model.answer(503, {"error": {"code": "x", "message": "y"}})
    before = errors_counted("http_error")
    with pytest.raises(modelservice.ModelServiceUnavailable):
        modelservice.version(request_id="r1")
    assert errors_counted("http_error") == before


def test_a_full_batch_answer_is_parsed(fake_model):
    fake_model.answer(
        200, {"results": [{"sentiment": "negative", "confidence": 0.25}], "model_version": "m-1"}
    )
    answer = modelservice.analyze_batch(["meh"], request_id="batch-1")
    assert answer == modelservice.BatchAnswer(
        [modelservice.Classification("negative", 0.25)], "m-1"
    )
    [sent] = fake_model.received
    assert (sent.path, sent.json()) == ("/analyze/batch", {"reviews": ["meh"]})
    assert sent.headers["x-request-id"] == "batch-1"
    assert "x-user-experiment" not in sent.headers


def test_a_batch_waits_for_its_own_read_timeout(fake_model, settings):
    answer = answer_json(
        200, {"results": [{"sentiment": "positive", "confidence": 0.5}], "model_version": "m"}
    )

    def slowly(handler, received) -> None:
        time.sleep(0.5)
        answer(handler, received)

    fake_model.respond = slowly
    settings.MODEL_SERVICE_READ_TIMEOUT = 0.1
    settings.BATCH_READ_TIMEOUT = 3.0
    assert modelservice.analyze_batch(["fine"], request_id="batch-1").model_version == "m"
    settings.BATCH_READ_TIMEOUT = 0.1
    with pytest.raises(modelservice.ModelServiceUnavailable) as caught:
        modelservice.analyze_batch(["fine"], request_id="batch-1")
    assert caught.value.reason == "timeout"


@pytest.mark.parametrize(
    "body",
    [
        {"results": [{"sentiment": "positive", "confidence": 0.9}], "model_version": "v" * 65},
        {"results": [{"sentiment": "positive", "confidence": 0.9}], "model_version": "  "},
        {"results": [{"sentiment": "positive", "confidence": 0.9}], "model_version": None},
        {"results": [{"sentiment": "positive", "confidence": 0.9}], "model_version": 7},
        {"results": [{"sentiment": "positive", "confidence": 0.9}]},
        {"results": [], "model_version": "m"},
        {"results": [{"sentiment": "meh", "confidence": 0.9}], "model_version": "m"},
        {"results": [{"sentiment": "positive", "confidence": 2}], "model_version": "m"},
        {"results": ["positive"], "model_version": "m"},
        {"results": "positive", "model_version": "m"},
        {"model_version": "m"},
        [{"sentiment": "positive", "confidence": 0.9}],
    ],
)
def test_an_unusable_batch_answer_is_refused_as_a_single_one_is(fake_model, body):
    fake_model.answer(200, body)
    with pytest.raises(modelservice.ModelServiceRejected) as caught:
        modelservice.analyze_batch(["fine"], request_id="batch-1")
    assert caught.value.reason == "bad_response"
    assert isinstance(caught.value, modelservice.ModelServiceError)  # one error family for callers
