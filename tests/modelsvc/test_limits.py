"""The model service's limits fit each other and every refusal names its limit: the largest
documented batch, in the widest JSON spelling, is accepted by both APIs; more is refused."""

import json

import pytest
from django.conf import settings

from modelsvc import serving
from tests.support.artifacts import write_tiny_artifact

pytestmark = pytest.mark.urls("modelsvc.urls")

INFER = "/v2/models/sentiment/infer"


@pytest.fixture
def tiny_model(tmp_path):
    """A small real pipeline: what is measured here is the body, not the model's speed."""
    path = tmp_path / "model.joblib"
    model = serving.load_verified(path, write_tiny_artifact(path))
    with serving.override(model):
        yield model


def largest_batch() -> list[str]:
    """MAX_BATCH_REVIEWS reviews of MAX_REVIEW_CHARS characters that json.dumps escapes
    (ensure_ascii): six bytes each."""
    return ["é" * settings.MAX_REVIEW_CHARS] * settings.MAX_BATCH_REVIEWS


def infer_body(texts: list[str]) -> dict:
    return {"inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts}]}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/analyze/batch", lambda texts: {"reviews": texts}),
        (INFER, infer_body),
    ],
)
def test_the_largest_documented_batch_fits_in_the_widest_spelling(client, tiny_model, path, body):
    data = json.dumps(body(largest_batch()), indent=2)
    assert len(data) > 6 * settings.MAX_REVIEW_CHARS * settings.MAX_BATCH_REVIEWS
    response = client.post(path, data=data, content_type="application/json")
    assert response.status_code == 200, response.content[:300]


@pytest.mark.parametrize(
    ("path", "message"),
    [("/analyze", lambda r: r["error"]["message"]), (INFER, lambda r: r["error"])],
)
def test_an_oversize_body_is_413_naming_the_limit(client, tiny_model, settings, path, message):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 12_345
    data = json.dumps({"review": "a" * 20_000})
    response = client.post(path, data=data, content_type="application/json")
    assert response.status_code == 413
    assert "12,345 bytes" in message(response.json())


def test_a_review_too_long_names_the_character_limit(client, tiny_model):
    too_long = "a" * (settings.MAX_REVIEW_CHARS + 1)
    house = client.post("/analyze", {"review": too_long}, content_type="application/json")
    oip = client.post(INFER, infer_body([too_long]), content_type="application/json")
    assert house.status_code == oip.status_code == 400
    assert f"{settings.MAX_REVIEW_CHARS}" in house.json()["error"]["message"]
    assert f"{settings.MAX_REVIEW_CHARS}" in oip.json()["error"]


def test_a_batch_too_large_names_the_count(client, tiny_model):
    texts = ["Fine."] * (settings.MAX_BATCH_REVIEWS + 1)
    house = client.post("/analyze/batch", {"reviews": texts}, content_type="application/json")
    oip = client.post(INFER, infer_body(texts), content_type="application/json")
    assert house.status_code == oip.status_code == 400
    assert f"{settings.MAX_BATCH_REVIEWS}" in house.json()["error"]["message"]
    assert f"at most {settings.MAX_BATCH_REVIEWS} reviews" in oip.json()["error"]
