"""The model service's REST API: predictions, versions, health, and every bad input."""

import json

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from modelsvc import serving
from modelsvc.api import serializers as s
from tests.support.bad_reviews import BAD_ANALYZE_BODIES


@pytest.fixture
def client() -> Client:
    return Client()


def post(client: Client, path: str, body, content_type: str = "application/json"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type)


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code:
        assert error["code"] == code
    return error


@pytest.mark.parametrize(
    ("review", "sentiment"),
    [
        ("The food was delicious and the staff were lovely. Highly recommend!", "positive"),
        ("Cold, bland food and a rude waiter. Never coming back.", "negative"),
    ],
)
def test_analyze_classifies_real_reviews(client, loaded_model, review, sentiment):
    response = post(client, "/analyze", {"review": review})
    assert response.status_code == 200
    body = response.json()
    assert body["sentiment"] == sentiment
    assert 0.5 <= body["confidence"] <= 1
    assert body["model_version"] == loaded_model.version


def test_batch_predicts_in_order_in_one_call(client, loaded_model):
    reviews = ["Absolutely wonderful dinner.", "Terrible, the worst meal ever.", "Great pizza!"]
    response = post(client, "/analyze/batch", {"reviews": reviews})
    assert response.status_code == 200
    body = response.json()
    assert [r["sentiment"] for r in body["results"]] == ["positive", "negative", "positive"]
    assert body["model_version"] == loaded_model.version
    single = [post(client, "/analyze", {"review": r}).json()["confidence"] for r in reviews]
    assert [r["confidence"] for r in body["results"]] == pytest.approx(single)


def test_review_text_is_passed_on_exactly_as_sent():
    # The model normalises whitespace itself, so its answer cannot show this: the contract is
    # that validation hands the text over unchanged.
    review = '  Crème brûlée was "perfect" 😍 — ça vaut le détour!\n '
    request = s.AnalyzeRequest(data={"review": review})
    assert request.is_valid(), request.errors
    assert request.validated_data["review"] == review


@pytest.mark.parametrize(("body", "fragment"), BAD_ANALYZE_BODIES)
def test_bad_review_is_a_clear_400(client, loaded_model, body, fragment):
    error = assert_error(post(client, "/analyze", body), 400, "invalid_input")
    assert fragment.lower() in error["message"].lower()


def test_review_at_the_limit_is_accepted(client, loaded_model):
    assert post(client, "/analyze", {"review": "good " * 1000}).status_code == 200


def test_malformed_json_is_400(client, loaded_model):
    assert_error(post(client, "/analyze", '{"review": "unterminated'), 400, "malformed_json")


def test_invalid_utf8_is_400(client, loaded_model):
    assert_error(post(client, "/analyze", b'{"review": "\xff\xfe"}'), 400, "malformed_json")


def test_wrong_content_type_is_415(client, loaded_model):
    response = post(
        client, "/analyze", "review=good", content_type="application/x-www-form-urlencoded"
    )
    assert_error(response, 415, "unsupported_media_type")


def test_wrong_method_is_405_json(client, loaded_model):
    assert_error(client.get("/analyze"), 405, "method_not_allowed")


def test_unknown_path_is_404_json(client):
    assert_error(client.get("/nope"), 404, "not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"reviews": []},
        {"reviews": "not a list"},
        {"reviews": ["ok", ""]},
        {"reviews": ["ok", 3]},
        {"reviews": ["fine"] * 1001},
        {},
    ],
)
def test_bad_batch_is_a_clear_400(client, loaded_model, body):
    assert_error(post(client, "/analyze/batch", body), 400, "invalid_input")


def test_full_batch_of_1000_is_accepted(client, loaded_model):
    response = post(client, "/analyze/batch", {"reviews": ["nice place"] * 1000})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1000


def test_oversize_body_is_413_json(client, loaded_model, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    assert_error(post(client, "/analyze/batch", {"reviews": ["x" * 900] * 3}), 413)


def test_not_ready_until_a_model_is_loaded(client):
    with serving.override(None):
        assert client.get("/health/live").status_code == 200
        assert_error(client.get("/health/ready"), 503, "model_not_ready")
        assert_error(post(client, "/analyze", {"review": "good"}), 503, "model_not_ready")
        assert client.get("/version").json()["model_version"] is None


def test_ready_and_version_report_the_model(client, loaded_model):
    assert client.get("/health/ready").json() == {
        "status": "ready",
        "model_version": loaded_model.version,
    }
    body = client.get("/version").json()
    assert body["service_version"] and body["model_version"] == loaded_model.version
    assert body["model_sha256"] == loaded_model.sha256
    assert body["model_metrics"]["accuracy"] > 0.5


def test_metrics_count_inferences_by_model_version(client, loaded_model):
    labels = {"endpoint": "analyze", "model_version": loaded_model.version}

    def inferences() -> float:
        return REGISTRY.get_sample_value("sentiment_model_inference_seconds_count", labels) or 0

    before = inferences()
    post(client, "/analyze", {"review": "great"})
    assert inferences() == before + 1
    text = client.get("/metrics").content.decode()
    assert "sentiment_model_inference_seconds_count{" in text
    assert "django_http_requests_total_by_method_total" in text


def test_openapi_schema_and_docs(client):
    schema = client.get("/api/schema", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/analyze", "/analyze/batch", "/version", "/health/ready"} <= set(paths)
    assert "400" in paths["/analyze"]["post"]["responses"]
    assert client.get("/api/docs").status_code == 200
