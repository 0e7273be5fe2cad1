"""Admin login throttling (django-axes) and how the client address is found behind the mesh.

Failed logins are counted per username and client address in the database, so every
worker and pod shares the count; after ``AXES_FAILURE_LIMIT`` failures that pair is locked
out for ``AXES_COOLOFF_TIME`` and the login answers 429 with a page saying when to retry
(``webapp.site.errors.lockout_response``).
"""

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest

from webapp.client_address import forwarded_client


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuses logins of a locked-out username+address; authenticates no one itself.

    Only HTTP logins can be brute-forced, so authentication without a request (the test
    client, management commands, a shell) is left to the next backend instead of failing.
    """

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
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
