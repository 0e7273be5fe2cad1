"""Admin login throttling (django-axes) and how the client address is found behind the mesh.

Failed logins are counted per username and client address in the database, so every
worker and pod shares the count; after ``AXES_FAILURE_LIMIT`` failures that pair is locked
out for ``AXES_COOLOFF_TIME`` and the login answers 429 with a page saying when to retry.
"""

from html import escape

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from webapp.client_address import forwarded_client

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
    """The client's address, with ``TRUSTED_PROXY_COUNT`` meaning exactly the mesh gateway's
    ``numTrustedProxies`` (Envoy's ``xff_num_trusted_hops``); give both the same value.

    - unset: no gateway in front (``make run``): the socket's peer, X-Forwarded-For ignored.
    - ``0``: the gateway sees the client directly (``externalTrafficPolicy: Local``). It
      appends the client's address: X-Forwarded-For ``..., client``.
    - ``1``: one L7 load balancer in front of the gateway, which appends the client and the
      gateway appends the balancer: ``..., client, lb``.
    - ``2``: two L7 proxies: ``..., client, lb1, lb2``.

    So the client is the (N+1)-th entry from the right; anything further left was sent by
    the client and is never used. See webapp/client_address.py.
    """
    return forwarded_client(
        request.META.get("REMOTE_ADDR", ""),
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
        settings.TRUSTED_PROXY_COUNT,
    )


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
