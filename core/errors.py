"""One error shape for every API: ``{"error": {"code": ..., "message": ...}}``.

DRF exceptions go through ``api_exception_handler``; errors Django raises before a view
runs (unknown URL, oversize body, disallowed host, a crash) go through the ``handler*``
views, so no API client ever sees an HTML page or a stack trace.
"""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """A domain error with a stable machine-readable code."""

    def __init__(self, code: str, message: str, status_code: int = status.HTTP_400_BAD_REQUEST):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.message = message


def error_body(code: str, message: str, **extra: Any) -> dict:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(extra)
    return {"error": body}


def json_error(code: str, message: str, status_code: int, **extra: Any) -> HttpResponse:
    """An error answered outside DRF, rendered by DRF's own renderer, so that it reads
    byte for byte like the same error raised inside an API view."""
    body = JSONRenderer().render(error_body(code, message, **extra))
    return HttpResponse(body, status=status_code, content_type=JSONRenderer.media_type)


def too_large_message() -> str:
    """What a 413 says: the limit, so that a client knows how far to shrink the body."""
    return (
        f"The request body is larger than the limit of "
        f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes (MAX_BODY_BYTES)."
    )


def _first_message(detail: Any) -> tuple[str, str]:
    """The first (field path, message) of a nested DRF validation detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            path, message = _first_message(value)
            name = str(key) if key != "non_field_errors" else ""
            return (f"{name}.{path}".strip(".") if path else name), message
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return "", str(detail)


_CODES = {
    exceptions.ParseError: "malformed_json",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotFound: "not_found",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.Throttled: "rate_limited",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApiError):
        return Response(error_body(exc.error_code, exc.message), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("request_too_large", too_large_message()), 413)
    if isinstance(exc, SuspiciousOperation):
        return Response(error_body("bad_request", "The request could not be understood."), 400)
    response = exception_handler(exc, context)
    if response is None:
        # Unexpected: log it with the trace server-side, answer a bland 500 without one.
        logger.exception("unhandled error in %s", context.get("view"))
        return Response(
            error_body("internal_error", "The server could not handle this request."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        field, message = _first_message(exc.detail)
        text = f"{field}: {message}" if field else message
        response.data = error_body("invalid_input", text, fields=exc.detail)
        return response
    code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    response.data = error_body(code, str(detail))
    return response


def is_too_large(exception) -> bool:
    """Whether Django refused the request for its body size (not, say, too many fields)."""
    return isinstance(exception, RequestDataTooBig)


def handler400(request: HttpRequest, exception=None) -> HttpResponse:
    if is_too_large(exception):
        return json_error("request_too_large", too_large_message(), 413)
    return json_error("bad_request", "The request could not be understood.", 400)


def handler403(request: HttpRequest, exception=None) -> HttpResponse:
    return json_error("permission_denied", "You are not allowed to do this.", 403)


def handler404(request: HttpRequest, exception=None) -> HttpResponse:
    return json_error("not_found", "No such resource.", 404)


def handler500(request: HttpRequest) -> HttpResponse:
    return json_error("internal_error", "The server could not handle this request.", 500)
