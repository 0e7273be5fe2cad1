"""Admin login throttling (django-axes) and how the client address is found behind the mesh.

Failed logins are counted per username and client address in the database, so every
worker and pod shares the count; after ``AXES_FAILURE_LIMIT`` failures that pair is locked
out for ``AXES_COOLOFF_TIME`` and the login answers 429 with a page saying when to retry
(``webapp.site.errors.lockout_response``).
"""

import ipaddress

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest


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
