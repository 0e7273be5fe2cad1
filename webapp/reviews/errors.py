"""Error answers of the web app: JSON under /api/ (and health checks), a friendly page elsewhere.

Views named by ``handler400..500`` in webapp/urls.py and by CSRF_FAILURE_VIEW.
"""

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from core import errors as api_errors

_JSON_PREFIXES = ("/api/", "/health/")

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


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(_JSON_PREFIXES)


def _page(request: HttpRequest, status: int, message: str | None = None) -> HttpResponse:
    title, default_message = _PAGES[status]
    context = {"title": title, "message": message or default_message}
    try:
        body = render_to_string("errors/error.html", context, request=request)
    except Exception:  # noqa: BLE001 - an error page must never fail in turn
        body = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{context['message']}</p>"
    return HttpResponse(body, status=status)


def handler400(request: HttpRequest, exception=None) -> HttpResponse:
    if _wants_json(request):
        return api_errors.handler400(request, exception)
    return _page(request, 413 if api_errors.is_too_large(exception) else 400)


def handler403(request: HttpRequest, exception=None) -> HttpResponse:
    if _wants_json(request):
        return api_errors.handler403(request, exception)
    return _page(request, 403)


def handler404(request: HttpRequest, exception=None) -> HttpResponse:
    if _wants_json(request):
        return api_errors.handler404(request, exception)
    return _page(request, 404)


def handler500(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return api_errors.handler500(request)
    return _page(request, 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if _wants_json(request):
        return api_errors.json_error("csrf_failed", "CSRF verification failed.", 403)
    return _page(request, 403, _CSRF_MESSAGE)
