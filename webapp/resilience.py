"""Turning a lost database into a clear 503 instead of a 500.

While PostgreSQL restarts or fails over, every query raises ``OperationalError`` or
``InterfaceError``. APIs then answer ``503 {"error": {"code": "database_unavailable"}}``
with ``Retry-After``, pages answer a friendly "try again" page, and the process recovers
on its own: Django's connection health checks open a new connection on the next request.
"""

import logging
import sys
from html import escape

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from rest_framework.response import Response

from core.errors import api_exception_handler as core_api_exception_handler
from core.errors import error_body, json_error

logger = logging.getLogger(__name__)

_JSON_PREFIXES = ("/api/", "/health/", "/metrics")
_RETRY_AFTER_SECONDS = "5"
_API_MESSAGE = "The service cannot reach its database; try again."
_TITLE = "We will be right back"
_MESSAGE = "The service cannot reach its database right now. Please try again in a moment."


def is_database_outage(exc: BaseException | None) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(_JSON_PREFIXES):
        response = json_error("database_unavailable", _API_MESSAGE, 503)
    else:
        response = HttpResponse(_page(), status=503)
    response["Retry-After"] = _RETRY_AFTER_SECONDS
    response["Cache-Control"] = "no-store"
    return response


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's exception handler (REST_FRAMEWORK["EXCEPTION_HANDLER"]): the shared one, except
    that a lost database is a 503 rather than an unexpected 500. DRF catches exceptions of
    API views itself, so the middleware below never sees those."""
    if is_database_outage(exc):
        request = context.get("request")
        logger.warning("database unavailable on %s: %s", getattr(request, "path", "?"), exc)
        return Response(
            error_body("database_unavailable", _API_MESSAGE),
            status=503,
            headers={"Retry-After": _RETRY_AFTER_SECONDS, "Cache-Control": "no-store"},
        )
    return core_api_exception_handler(exc, context)


def _page() -> str:
    context = {"title": _TITLE, "message": _MESSAGE}
    try:
        # The web app's error page, if it renders without the database.
        return render_to_string("errors/error.html", context)
    except Exception:  # noqa: BLE001 - this page must never fail in turn
        return (
            f"<!doctype html><html lang=en><meta charset=utf-8><title>{escape(_TITLE)}</title>"
            f"<h1>{escape(_TITLE)}</h1><p>{escape(_MESSAGE)}</p></html>"
        )


def _mark_outage(sender, request=None, **kwargs) -> None:
    """Errors raised outside a view (another middleware, a template) become a 500 inside
    Django's handler before any outer middleware sees them; remember that the cause was the
    database so the middleware below can answer 503 instead."""
    exc = sys.exc_info()[1]
    if request is not None and is_database_outage(exc):
        request._database_outage = True


got_request_exception.connect(_mark_outage, dispatch_uid="webapp.resilience.mark_outage")


class DatabaseUnavailableMiddleware:
    """Place right after SecurityMiddleware so that it wraps everything that may query."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, "_database_outage", False):
            return unavailable_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception):
        if is_database_outage(exception):
            logger.warning("database unavailable on %s: %s", request.path, exception)
            return unavailable_response(request)
        return None
