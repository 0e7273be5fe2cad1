"""Request metrics of the web app by version, experiment variant, route and status class.

Every label value is bounded: the route is the resolved URL name (never the raw path, which
would create a series per visitor-chosen URL), the variant is A, B or "none".
"""

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, resolve

from core import metrics
from webapp.experiments.services import VARIANTS

UNMATCHED = "unmatched"


def route_of(request: HttpRequest) -> str:
    """The URL pattern's name: bounded by the URLconf, whatever path the client sent."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        # A response made before URL resolution (the experiment's redirect) still belongs
        # to the route it was asked for.
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return UNMATCHED
    if "admin" in match.namespaces:
        # The admin has a view per model and action; one series is enough to watch it.
        return "admin"
    return match.view_name or match.route or "unnamed"


def variant_of(request: HttpRequest) -> str:
    experiment = getattr(request, "experiment", None)
    variant = getattr(experiment, "variant", None)
    return variant if variant in VARIANTS else "none"


def status_class(status_code: int) -> str:
    return f"{status_code // 100}xx"


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        # Runs once per worker process when Django builds its middleware chain.
        metrics.APP_INFO.labels(settings.APP_VERSION, settings.APP_VARIANT).set(1)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        version, variant, route = settings.APP_VERSION, variant_of(request), route_of(request)
        metrics.APP_REQUESTS.labels(
            version, variant, route, status_class(response.status_code)
        ).inc()
        metrics.APP_REQUEST_SECONDS.labels(version, variant, route).observe(elapsed)
        return response
