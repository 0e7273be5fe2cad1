"""The one error shape, whatever raised it."""

import json

import pytest
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer

from core.errors import ApiError, api_exception_handler


def test_validation_errors_name_the_first_field():
    response = api_exception_handler(
        exceptions.ValidationError({"reviews": {1: ["Must be a string."]}}), {}
    )
    assert response.status_code == 400
    assert response.data["error"]["code"] == "invalid_input"
    assert response.data["error"]["message"] == "reviews.1: Must be a string."


def test_domain_errors_keep_their_code_and_status():
    response = api_exception_handler(ApiError("model_unavailable", "down", 503), {})
    assert response.status_code == 503
    assert response.data == {"error": {"code": "model_unavailable", "message": "down"}}


def test_unexpected_errors_answer_500_without_details():
    response = api_exception_handler(RuntimeError("secret internals"), {"view": None})
    assert response.status_code == 500
    assert "secret" not in str(response.data)
    assert response.data["error"]["code"] == "internal_error"


def compact(body: dict) -> bytes:
    """The one spelling of a JSON error: DRF's renderer (no spaces, UTF-8 as is)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


NOT_FOUND = {"error": {"code": "not_found", "message": "No such resource."}}


@pytest.mark.parametrize("urlconf", ["webapp.urls", "modelsvc.urls"])
def test_a_not_found_outside_drf_reads_like_one_inside(client, settings, urlconf):
    """Django's 404 (no URL matched) and DRF's (a view raised NotFound) give the same bytes,
    in both services."""
    settings.ROOT_URLCONF = urlconf
    outside = client.get("/api/no-such-thing")
    inside = api_exception_handler(exceptions.NotFound("No such resource."), {})
    inside.accepted_renderer = JSONRenderer()
    inside.accepted_media_type = JSONRenderer.media_type
    inside.renderer_context = {}
    inside.render()
    assert outside.status_code == inside.status_code == 404
    assert outside["Content-Type"] == inside["Content-Type"] == "application/json"
    assert outside.content == inside.content == compact(NOT_FOUND)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/batch/00000000-0000-4000-8000-000000000000", None),
        (
            "post",
            "/api/feedback",
            {"prediction_id": "00000000-0000-4000-8000-000000000000", "correct": True},
        ),
    ],
)
def test_the_web_apps_api_not_founds_use_the_one_spelling(client, method, path, body):
    response = getattr(client, method)(path, body, content_type="application/json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.content == compact(response.json())
