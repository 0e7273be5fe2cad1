"""The one error shape, whatever raised it."""

from rest_framework import exceptions

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
