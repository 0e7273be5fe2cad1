"""How the web app answers when something goes wrong: JSON for programs, a page for people.

One rule says who is a program (``wants_json``), one function builds every error page
(``page``) and ``core.errors`` renders every JSON error, so the handlers below differ only
in what they say:

- Django's error views (``handler400..500`` in webapp/urls.py) and ``CSRF_FAILURE_VIEW``;
- the admin sign-in lockout page (``AXES_LOCKOUT_CALLABLE``, see webapp/security.py);
- a lost database. While PostgreSQL restarts or fails over, every query raises
  ``OperationalError`` or ``InterfaceError``; the answer is then a 503 with ``Retry-After``
  instead of a 500, and the process recovers on its own, because Django's connection health
  checks open a new connection on the next request.
"""

import logging
import sys
from collections.abc import Callable
from html import escape
from http import HTTPStatus

from axes.helpers import get_cool_off
from django.conf import settings
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from rest_framework.response import Response

from core import errors as api_errors

logger = logging.getLogger(__name__)

# Paths read by programs, never by people: API clients under /api/, the kubelet's probes
# under /health/ and Prometheus on /metrics. An HTML page there would only be a parse error
# in a log; every other path is a page a person may be looking at.
_MACHINE_PREFIXES = ("/api/", "/health/")
_MACHINE_PATHS = ("/metrics",)


def wants_json(request: HttpRequest) -> bool:
    path = request.path
    return path.startswith(_MACHINE_PREFIXES) or path in _MACHINE_PATHS


def page(
    status: int, title: str, message: str, *, request: HttpRequest | None = None
) -> HttpResponse:
    """The site's error page, or a bare one when even that cannot be rendered.

    Without a request no context processor runs, so the page cannot reach the database
    through one; the database-outage page relies on that.
    """
    body: str
    try:
        body = render_to_string(
            "errors/error.html", {"title": title, "message": message}, request=request
        )
    except Exception:  # noqa: BLE001 - an error page must never fail in turn
        body = (
            f"<!doctype html><html lang=en><meta charset=utf-8><title>{escape(title)}</title>"
            f"<h1>{escape(title)}</h1><p>{escape(message)}</p></html>"
        )
    return HttpResponse(body, status=status)


# --- Django's error views ------------------------------------------------------------------
_PAGES = {
    400: ("Something is wrong with that request", "The page could not understand what was sent."),
    403: ("Not allowed", "You are not allowed to do this."),
    404: ("Page not found", "There is nothing at this address."),
    413: ("That was too much text", "The review is too long to send. Please shorten it."),
    500: ("Something went wrong", "The problem is on our side. Please try again in a moment."),
}
_CSRF_MESSAGE = (
    "The form had expired or your browser blocked its security cookie. Please go back, reload "
    "the page and send it again."
)


def _status_page(request: HttpRequest, status: int, message: str | None = None) -> HttpResponse:
    title, default_message = _PAGES[status]
    return page(status, title, message or default_message, request=request)


def handler400(request: HttpRequest, exception=None) -> HttpResponse:
    if wants_json(request):
        return api_errors.handler400(request, exception)
    return _status_page(request, 413 if api_errors.is_too_large(exception) else 400)


def handler403(request: HttpRequest, exception=None) -> HttpResponse:
    if wants_json(request):
        return api_errors.handler403(request, exception)
    return _status_page(request, 403)


def handler404(request: HttpRequest, exception=None) -> HttpResponse:
    if wants_json(request):
        return api_errors.handler404(request, exception)
    return _status_page(request, 404)


def handler500(request: HttpRequest) -> HttpResponse:
    if wants_json(request):
        return api_errors.handler500(request)
    return _status_page(request, 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if wants_json(request):
        return api_errors.json_error("csrf_failed", "CSRF verification failed.", 403)
    return _status_page(request, 403, _CSRF_MESSAGE)


# --- Admin sign-in lockout -----------------------------------------------------------------
_LOCKOUT_TITLE = "Too many failed sign-in attempts"


def lockout_response(
    request: HttpRequest, original_response=None, credentials=None
) -> HttpResponse:
    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else None
    wait = f"in {minutes} minutes" if minutes else "later"
    message = f"Sign-in for this account is paused after repeated failures. Try again {wait}."
    response = page(settings.AXES_HTTP_RESPONSE_CODE, _LOCKOUT_TITLE, message, request=request)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


# --- A lost database -----------------------------------------------------------------------
_RETRY_AFTER_SECONDS = "5"
_OUTAGE_CODE = "database_unavailable"
# Set in the request's WSGI environ by the signal handler, read by the middleware.
_OUTAGE_MARK = "sentiment.database_outage"
_OUTAGE_API_MESSAGE = "The service cannot reach its database; try again."
_OUTAGE_TITLE = "We will be right back"
_OUTAGE_MESSAGE = "The service cannot reach its database right now. Please try again in a moment."
_OUTAGE_HEADERS = {"Retry-After": _RETRY_AFTER_SECONDS, "Cache-Control": "no-store"}


def is_database_outage(exc: BaseException | None) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    if wants_json(request):
        response = api_errors.json_error(_OUTAGE_CODE, _OUTAGE_API_MESSAGE, 503)
    else:
        response = page(503, _OUTAGE_TITLE, _OUTAGE_MESSAGE)
    for header, value in _OUTAGE_HEADERS.items():
        response[header] = value
    return response


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's exception handler (REST_FRAMEWORK["EXCEPTION_HANDLER"]): the shared one, except
    that a lost database is a 503 rather than an unexpected 500. DRF catches exceptions of
    API views itself, so the middleware below never sees those."""
    if is_database_outage(exc):
        request = context.get("request")
        logger.warning("database unavailable on %s: %s", getattr(request, "path", "?"), exc)
        return Response(
            api_errors.error_body(_OUTAGE_CODE, _OUTAGE_API_MESSAGE),
            status=503,
            headers=_OUTAGE_HEADERS,
        )
    return api_errors.api_exception_handler(exc, context)


def _mark_outage(sender, request=None, **kwargs) -> None:
    """Errors raised outside a view (another middleware, a template) become a 500 inside
    Django's handler before any outer middleware sees them; remember that the cause was the
    database so the middleware below can answer 503 instead."""
    exc = sys.exc_info()[1]
    if request is not None and is_database_outage(exc):
        request.META[_OUTAGE_MARK] = True


got_request_exception.connect(_mark_outage, dispatch_uid="webapp.site.errors.mark_outage")


class DatabaseUnavailableMiddleware:
    """Place right after SecurityMiddleware so that it wraps everything that may query."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR and request.META.get(
            _OUTAGE_MARK
        ):
            return unavailable_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_outage(exception):
            logger.warning("database unavailable on %s: %s", request.path, exception)
            return unavailable_response(request)
        return None
