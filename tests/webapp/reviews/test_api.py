"""REST API: analyze, feedback, version, health; every bad input and every model failure."""

import threading
import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, RequestFactory

from tests.support.bad_reviews import BAD_ANALYZE_BODIES
from tests.webapp.reviews.factories import PredictionFactory
from webapp.experiments.arm import ExperimentArm
from webapp.reviews import api, services
from webapp.reviews.models import FailedPrediction, Feedback, Prediction

pytestmark = pytest.mark.django_db

VERSION = settings.APP_VERSION


def analyze(client, payload, **kwargs):
    return client.post("/api/analyze", payload, content_type="application/json", **kwargs)


def give_feedback(client, payload):
    return client.post("/api/feedback", payload, content_type="application/json")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


# --- analyze ------------------------------------------------------------------------------


def test_analyze_answers_and_stores_the_prediction(client, fake_model, metric):
    def predictions_counted(variant: str) -> float:
        return metric(
            "sentiment_app_predictions_total",
            app_version=VERSION,
            # A fresh install's experiment assigns A or B; outside it, both labels are "none".
            experiment="none" if variant == "none" else "frontend-v2",
            variant=variant,
            model_version="fake-1",
            sentiment="negative",
        )

    before = {variant: predictions_counted(variant) for variant in ("A", "B", "none")}
    response = analyze(client, {"review": "A bad, bad evening."})
    assert response.status_code == 200
    body = response.json()
    prediction = Prediction.objects.get()
    # The visitor may be in the experiment a fresh install runs; the answer says which.
    assert body == {
        "prediction_id": str(prediction.id),
        "sentiment": "negative",
        "confidence": 0.875,
        "emoji": "😞",
        "app_version": VERSION,
        "model_version": "fake-1",
        "model_variant": "v1",
        "variant": prediction.variant or None,
    }
    assert prediction.variant in {"", "A", "B"}
    assert prediction.review == "A bad, bad evening."
    assert (prediction.sentiment, prediction.confidence) == ("negative", 0.875)
    assert (prediction.app_version, prediction.app_variant) == (VERSION, "v1")
    assert prediction.latency_ms >= 0
    label = prediction.variant or "none"
    assert predictions_counted(label) == before[label] + 1
    assert metric("sentiment_app_prediction_seconds_count", app_version=VERSION, variant=label)


def test_analyze_runs_as_v2_when_configured(client, fake_model, settings):
    settings.APP_VARIANT = "v2"
    assert analyze(client, {"review": "Nice."}).status_code == 200
    assert Prediction.objects.get().app_variant == "v2"


def test_analyze_keeps_every_character(client, fake_model):
    review = "  Déjà vu: «crème brûlée» 🍮🔥, \"quotes\" & 'apostrophes'\n\tend  "
    assert analyze(client, {"review": review}).status_code == 200
    assert fake_model.received[0].json()["review"] == review
    assert Prediction.objects.get().review == review


def test_analyze_forwards_a_safe_request_id(client, fake_model):
    analyze(client, {"review": "Good."}, HTTP_X_REQUEST_ID="req-42")
    analyze(client, {"review": "Good."}, HTTP_X_REQUEST_ID="bad id\x7f")
    first, second = fake_model.received
    assert first.headers["x-request-id"] == "req-42"
    assert second.headers["x-request-id"] not in {"req-42", "bad id\x7f"}


def test_analyze_records_the_experiment_and_forwards_the_variant(fake_model, metric):
    before = metric(
        "sentiment_app_predictions_total",
        app_version=VERSION,
        variant="B",
        model_version="fake-1",
        sentiment="positive",
    )
    request = RequestFactory().post(
        "/api/analyze", {"review": "Great."}, content_type="application/json"
    )
    request.experiment = ExperimentArm(
        experiment="card-redesign", variant="B", visitor_id="visitor-7", phase=1, source="hash"
    )
    response = api.AnalyzeView.as_view()(request)
    assert response.status_code == 200
    assert response.data["variant"] == "B"
    prediction = Prediction.objects.get()
    assert (prediction.experiment, prediction.variant, prediction.visitor_id) == (
        "card-redesign",
        "B",
        "visitor-7",
    )
    assert fake_model.received[0].headers["x-user-experiment"] == "B"
    assert (
        metric(
            "sentiment_app_predictions_total",
            app_version=VERSION,
            experiment="card-redesign",
            variant="B",
            model_version="fake-1",
            sentiment="positive",
        )
        == before + 1
    )


def test_the_api_needs_no_csrf_token(fake_model):
    browser = Client(enforce_csrf_checks=True)
    browser.cookies["sentiment_session"] = "anything"
    assert analyze(browser, {"review": "Good."}).status_code == 200


@pytest.mark.parametrize(("payload", "fragment"), BAD_ANALYZE_BODIES)
def test_analyze_refuses_bad_input(client, fake_model, payload, fragment):
    error = assert_error(analyze(client, payload), 400, "invalid_input")
    assert "review" in error["message"] or "dictionary" in error["message"]
    assert fragment.lower() in error["message"].lower()
    assert not fake_model.received
    assert not Prediction.objects.exists()
    assert not FailedPrediction.objects.exists()


def test_analyze_accepts_exactly_the_maximum_length(client, fake_model):
    review = "é" * settings.MAX_REVIEW_CHARS
    assert analyze(client, {"review": review}).status_code == 200
    assert Prediction.objects.get().review == review


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"review": "unterminated', "application/json", 400, "malformed_json"),
        (b"", "application/json", 400, "invalid_input"),
        (b'{"review": "\\ud800"}', "application/json", 400, "invalid_input"),
        (b"review=good", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"good", "text/plain", 415, "unsupported_media_type"),
    ],
    ids=["malformed-json", "empty-body", "lone-surrogate", "form-encoded", "text-plain"],
)
def test_analyze_refuses_bad_bodies(client, fake_model, body, content_type, status, code):
    assert_error(client.post("/api/analyze", body, content_type=content_type), status, code)
    assert not fake_model.received
    assert not Prediction.objects.exists()


@pytest.mark.parametrize("path", ["/api/analyze", "/api/feedback"])
def test_an_oversize_body_is_413(client, fake_model, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post(path, {"review": "x" * 2000}, content_type="application/json")
    assert_error(response, 413, "request_too_large")
    assert not fake_model.received


def test_analyze_only_accepts_post(client):
    assert_error(client.get("/api/analyze"), 405, "method_not_allowed")


def _expect_model_failure(client, reason, metric, review="Where is my food?"):
    labels = {"app_version": VERSION, "model_variant": "v1", "reason": reason}
    before = metric("sentiment_app_model_errors_total", **labels)
    error = assert_error(analyze(client, {"review": review}), 503, "model_unavailable")
    assert "try again" in error["message"]
    failed = FailedPrediction.objects.get()
    assert (failed.review, failed.reason, failed.app_version) == (review, reason, VERSION)
    assert not Prediction.objects.exists()
    after = metric("sentiment_app_model_errors_total", **labels)
    assert after == before + 1


def test_model_service_down(client, dead_model, metric):
    _expect_model_failure(client, "unavailable", metric, review="Ça ne marche pas 😤")


def test_model_service_too_slow(client, fake_model, settings, metric):
    settings.MODEL_SERVICE_READ_TIMEOUT = 0.2
    fake_model.answer_slowly(1.0)
    _expect_model_failure(client, "timeout", metric)


def test_model_service_server_error(client, fake_model, metric):
    fake_model.answer(500, b"Internal Server Error")
    _expect_model_failure(client, "http_error", metric)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json at all",
        {"sentiment": "meh", "confidence": 0.5, "model_version": "m"},
        {"sentiment": "positive", "confidence": 7, "model_version": "m"},
    ],
    ids=["non-json", "unknown-sentiment", "confidence-out-of-range"],
)
def test_model_service_garbage(client, fake_model, payload, metric):
    fake_model.answer(200, payload)
    _expect_model_failure(client, "bad_response", metric)


# --- feedback -----------------------------------------------------------------------------


@pytest.mark.parametrize("correct", [True, False])
def test_feedback_is_stored_once(client, correct, metric):
    prediction = PredictionFactory(variant="A", experiment="e")
    label = str(correct).lower()
    before = metric(
        "sentiment_app_feedback_total",
        app_version=VERSION,
        experiment="e",
        variant="A",
        correct=label,
    )
    response = give_feedback(client, {"prediction_id": str(prediction.id), "correct": correct})
    assert response.status_code == 201
    body = response.json()
    assert body["prediction_id"] == str(prediction.id)
    assert body["correct"] is correct
    assert Feedback.objects.get().correct is correct
    assert (
        metric(
            "sentiment_app_feedback_total",
            app_version=VERSION,
            experiment="e",
            variant="A",
            correct=label,
        )
        == before + 1
    )

    second = give_feedback(client, {"prediction_id": str(prediction.id), "correct": not correct})
    assert_error(second, 409, "feedback_exists")
    # The first answer stands, and the transaction is still usable after the conflict.
    assert Feedback.objects.get().correct is correct


def test_feedback_on_an_unknown_prediction(client):
    response = give_feedback(client, {"prediction_id": str(uuid.uuid4()), "correct": True})
    assert_error(response, 404, "not_found")
    assert not Feedback.objects.exists()


@pytest.mark.parametrize(
    "prediction_id",
    ["not-a-uuid", "1234", "", 12345, None, "0f8fe3c2-5b1e-4c1e-9b53-2f0c7a1d9e5"],
)
def test_feedback_needs_a_well_formed_id(client, prediction_id):
    response = give_feedback(client, {"prediction_id": prediction_id, "correct": True})
    assert "prediction_id" in assert_error(response, 400, "invalid_input")["message"]


@pytest.mark.parametrize("correct", ["yes", "true", "True", 1, 0, None, [], {}])
def test_feedback_needs_a_json_boolean(client, correct):
    prediction = PredictionFactory()
    response = give_feedback(client, {"prediction_id": str(prediction.id), "correct": correct})
    assert "correct" in assert_error(response, 400, "invalid_input")["message"]
    assert not Feedback.objects.exists()


@pytest.mark.parametrize(
    "payload", [{}, {"correct": True}, [], "true"], ids=["empty", "no-id", "list", "string"]
)
def test_feedback_needs_both_fields_in_an_object(client, payload):
    assert_error(give_feedback(client, payload), 400, "invalid_input")


def test_feedback_refuses_malformed_json_and_other_content(client):
    response = client.post("/api/feedback", b"{nope", content_type="application/json")
    assert_error(response, 400, "malformed_json")
    response = client.post("/api/feedback", {"correct": "true"})  # multipart form
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.django_db(transaction=True)
def test_simultaneous_feedback_keeps_exactly_one(fake_model):
    prediction = PredictionFactory()
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def vote(correct: bool) -> None:
        barrier.wait()
        try:
            services.record_feedback(prediction.id, correct)
            outcomes.append("stored")
        except services.FeedbackAlreadyGiven:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=vote, args=(i % 2 == 0,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "stored"]
    assert Feedback.objects.count() == 1


# --- version, health, schema --------------------------------------------------------------


def test_version_with_the_model_service_up(client, fake_model):
    response = client.get("/api/version")
    assert response.status_code == 200
    body = response.json()
    assert body.pop("variant") in {None, "A", "B"}  # the experiment of a fresh install, if any
    assert body == {
        "app_version": VERSION,
        "app_variant": "v1",
        "model_variant": "v1",
        "model_service": {"service": "sentiment-model", "model_version": "fake-1"},
        "model_service_error": None,
    }


def test_version_with_the_model_service_down(client, dead_model, settings):
    settings.APP_VARIANT = "v2"
    body = client.get("/api/version").json()
    assert body["app_variant"] == "v2"
    assert body["model_service"] is None
    assert body["model_service_error"] == "unavailable"


def test_version_with_the_model_service_failing(client, fake_model):
    fake_model.answer(503, {"error": {"code": "model_not_ready", "message": "loading"}})
    response = client.get("/api/version")
    assert response.status_code == 200
    assert response.json()["model_service_error"] == "http_error"


def test_health(client):
    assert client.get("/health/live").json() == {"status": "alive"}
    assert client.get("/health/ready").json() == {"status": "ready"}


def test_unknown_api_paths_answer_json(client):
    assert_error(client.get("/api/nothing-here"), 404, "not_found")
    assert_error(client.get("/health/nothing-here"), 404, "not_found")


def test_schema_documents_the_api(client):
    response = client.get("/api/schema", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    analyze_ops = paths["/api/analyze"]["post"]
    assert set(analyze_ops["responses"]) >= {"200", "400", "415", "503"}
    feedback_ops = paths["/api/feedback"]["post"]
    assert set(feedback_ops["responses"]) >= {"201", "400", "404", "409"}
    assert {"/api/version", "/health/live", "/health/ready"} <= set(paths)
    schemas = response.json()["components"]["schemas"]
    assert schemas["FeedbackRequest"]["properties"]["correct"]["type"] == "boolean"
    assert client.get("/api/docs").status_code == 200


def test_metrics_expose_predictions(client, fake_model):
    analyze(client, {"review": "Good."})
    text = client.get("/metrics").content.decode()
    assert "sentiment_app_predictions_total{" in text
