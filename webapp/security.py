"""Admin login throttling (django-axes) and how the client address is found behind the mesh.

Failed logins are counted per username and client address in the database, so every
worker and pod shares the count; after ``AXES_FAILURE_LIMIT`` failures that pair is locked
out for ``AXES_COOLOFF_TIME`` and the login answers 429 with a page saying when to retry.
"""

import ipaddress
from html import escape

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

_TITLE = "Too many failed sign-in attempts"


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuses logins of a locked-out username+address; authenticates no one itself.

    Only HTTP logins can be brute-forced, so authentication without a request (the test
    client, management commands, a shell) is left to the next backend instead of failing.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or, behind ``TRUSTED_PROXY_COUNT`` proxies that
    each append to X-Forwarded-For (the mesh gateway), the entry the first of them added.
    Entries further left are written by the client and could be forged."""
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    chain = [part for part in chain if part]
    if len(chain) < hops:
        return remote
    candidate = chain[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else None
    wait = f"in {minutes} minutes" if minutes else "later"
    message = f"Sign-in for this account is paused after repeated failures. Try again {wait}."
    context = {"title": _TITLE, "message": message}
    try:
        body = render_to_string("errors/error.html", context, request=request)
    except Exception:  # noqa: BLE001 - the lockout page must not fail in turn
        body = (
            f"<!doctype html><html lang=en><meta charset=utf-8><title>{escape(_TITLE)}</title>"
            f"<h1>{escape(_TITLE)}</h1><p>{escape(message)}</p></html>"
        )
    response = HttpResponse(body, status=settings.AXES_HTTP_RESPONSE_CODE)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
