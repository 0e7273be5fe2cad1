"""The model service client against a real socket: answers, garbage, slowness, silence."""

import json
import time

import pytest

from webapp.reviews import client


def test_sends_the_review_exactly_and_parses_the_answer(fake_model):
    review = 'Crème brûlée 🍮 was "perfect" — ¡olé!\n\tNo complaints.'
    answer = client.analyze(review, request_id="abc-123", variant="B")
    assert answer == client.ModelAnswer("positive", 0.875, "fake-1")
    [sent] = fake_model.received
    assert (sent.method, sent.path) == ("POST", "/analyze")
    assert sent.json() == {"review": review}
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["x-request-id"] == "abc-123"
    assert sent.headers["x-user-experiment"] == "B"


def test_no_experiment_header_outside_an_experiment(fake_model):
    client.analyze("fine", request_id="r1")
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
    request_id = client.request_id_from(incoming)
    if kept:
        assert request_id == incoming
    else:
        assert len(request_id) == 32
        assert request_id != client.request_id_from(incoming)


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
    with pytest.raises(client.ModelServiceError) as caught:
        client.analyze("fine", request_id="r1")
    assert caught.value.reason == reason


def test_a_slow_answer_times_out(fake_model, settings):
    settings.MODEL_SERVICE_READ_TIMEOUT = 0.2
    fake_model.answer_slowly(2.0)
    started = time.monotonic()
    with pytest.raises(client.ModelServiceError) as caught:
        client.analyze("fine", request_id="r1")
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 1.5  # gave up long before the answer came
    assert len(fake_model.received) == 1


def test_a_refused_connection_is_unavailable(dead_model):
    with pytest.raises(client.ModelServiceError) as caught:
        client.analyze("fine", request_id="r1")
    assert caught.value.reason == "unavailable"


def test_a_request_that_reached_the_server_is_never_sent_again(fake_model, settings):
    settings.MODEL_SERVICE_RETRIES = 3
    fake_model.hang_up()
    with pytest.raises(client.ModelServiceError) as caught:
        client.analyze("fine", request_id="r1")
    assert caught.value.reason == "unavailable"
    assert len(fake_model.received) == 1


def test_only_connection_failures_are_retried(settings):
    settings.MODEL_SERVICE_RETRIES = 3
    adapter = client._session(settings.MODEL_SERVICE_RETRIES).get_adapter("http://model")
    retry = adapter.max_retries
    assert retry.connect == 3
    assert retry.read is False
    assert retry.status == 0
    assert retry.other == 0
    assert "POST" in retry.allowed_methods


def test_the_session_is_pooled_and_shared(settings):
    assert client._session(settings.MODEL_SERVICE_RETRIES) is client._session(
        settings.MODEL_SERVICE_RETRIES
    )


def test_version_returns_the_model_service_answer(fake_model):
    assert client.version(request_id="r1") == {
        "service": "sentiment-model",
        "model_version": "fake-1",
    }
    fake_model.answer(200, json.dumps([1, 2]).encode())
    with pytest.raises(client.ModelServiceError) as caught:
        client.version(request_id="r1")
    assert caught.value.reason == "bad_response"
