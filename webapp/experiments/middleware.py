"""Puts page visits and identified API clients in the experiment that steers routing.

Sets ``request.experiment`` (an ``ExperimentContext``, or None when no experiment is live,
the client takes no part, or the other version's app serves the request) and the two
cookies: ``sentiment_visitor`` (who the visitor is) and ``x-user-experiment`` (A or B: the
mesh sends B to v2, everything else to v1). The variant cookie always ends up as the variant
the experiment gives now, so a rollback moves visitors back to v1 on their next request.
"""

import logging
import re
import secrets

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.http import escape_leading_slashes

from core.metrics import EXPERIMENT_ASSIGNMENTS
from webapp.experiments import services
from webapp.experiments.models import Source, Variant
from webapp.experiments.services import ExperimentContext

logger = logging.getLogger(__name__)

VISITOR_COOKIE = "sentiment_visitor"
VARIANT_COOKIE = "x-user-experiment"
VARIANT_HEADER = "X-User-Experiment"
USER_ID_HEADER = "X-User-Id"
COOKIE_MAX_AGE = 365 * 24 * 60 * 60
# Probes, scrapes, static files, the admin and the batch job page's polling never take part:
# no cookies, no queries.
SKIPPED_PREFIXES = ("/health/", "/v2/health/", "/metrics", "/admin/", "/api/batch/")

_SAFE_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def safe_token(value: str | None) -> str | None:
    """``value`` if it is a short id safe to store and echo in a cookie, else None."""
    return value if value and _SAFE_TOKEN.fullmatch(value) else None


def valid_variant(value: str | None) -> str | None:
    return value if value in services.VARIANTS else None


def _is_page_visit(request: HttpRequest) -> bool:
    """A browser asking for a page: the one request that can be redirected, and whose
    client can be expected to send our cookies back."""
    return (
        request.method == "GET"
        and not request.path.startswith("/api/")
        and "text/html" in request.headers.get("Accept", "")
    )


class ExperimentMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        static = settings.STATIC_URL or ""
        local_static = () if "://" in static else ("/" + static.lstrip("/"),)
        self.skipped = SKIPPED_PREFIXES + local_static

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(self.skipped):
            request.experiment = None
            return self.get_response(request)

        known_visitor = safe_token(request.COOKIES.get(VISITOR_COOKIE))
        header_variant = valid_variant(request.headers.get(VARIANT_HEADER))
        user_id = safe_token(request.headers.get(USER_ID_HEADER))
        if not (known_visitor or user_id or header_variant or _is_page_visit(request)):
            # A client that keeps no cookie and names no id would be a new visitor on every
            # call, inflating visitors and the split check: it takes no part.
            request.experiment = None
            return self.get_response(request)
        visitor_id = known_visitor or user_id or secrets.token_urlsafe(16)
        cookie_variant = valid_variant(request.COOKIES.get(VARIANT_COOKIE))
        # The variant cookie we set comes back together with our visitor cookie; only one
        # that arrives without it was set by the client on purpose.
        requested = header_variant or (None if known_visitor else cookie_variant)

        context, target = None, None
        try:
            steering = services.steering_experiment()
            if steering is not None:
                context = services.assign(
                    visitor_id, experiment=steering, requested_variant=requested
                )
                # A steering experiment that is not live (draft, paused) routes everyone to A.
                target = context.variant if context else Variant.A
        except DatabaseError as exc:
            # Serve the request as if no experiment ran rather than fail the page.
            logger.warning("experiment assignment unavailable: %s", exc)
        redirect = target and self._should_redirect(
            request, context, target, known_visitor, header_variant, cookie_variant
        )
        # A request the other version's app serves (an API call before the cookie routes it)
        # is not evidence about this variant: the statistics must compare v1 with v2.
        served_by_its_app = context is None or (
            (context.variant == Variant.B) == (settings.APP_VARIANT == "v2")
        )
        request.experiment = context if served_by_its_app else None

        if redirect:
            # A path starting with // would be an off-site URL in Location.
            response = HttpResponseRedirect(escape_leading_slashes(request.get_full_path()))
            add_never_cache_headers(response)
        else:
            response = self.get_response(request)

        secure = settings.VISITOR_COOKIE_SECURE
        if visitor_id != known_visitor:
            response.set_cookie(
                VISITOR_COOKIE,
                visitor_id,
                max_age=COOKIE_MAX_AGE,
                httponly=True,
                samesite="Lax",
                secure=secure,
            )
        if target:
            if target != cookie_variant:
                # The mesh reads this cookie from the request; no page script needs it.
                response.set_cookie(
                    VARIANT_COOKIE,
                    target,
                    max_age=COOKIE_MAX_AGE,
                    httponly=True,
                    samesite="Lax",
                    secure=secure,
                )
                if context and context.source in (Source.ROLLBACK, Source.PROMOTE):
                    # Hash and client assignments are counted when stored (services.assign).
                    EXPERIMENT_ASSIGNMENTS.labels(context.experiment, target, context.source).inc()
            patch_vary_headers(response, ("Cookie", VARIANT_HEADER, USER_ID_HEADER))
        return response

    @staticmethod
    def _should_redirect(
        request: HttpRequest,
        context: ExperimentContext | None,
        target: str,
        known_visitor: str | None,
        header_variant: str | None,
        cookie_variant: str | None,
    ) -> bool:
        """Whether to answer a page request with a redirect to itself, so that the page
        comes from the app of the visitor's variant (v1 for A, v2 for B) once the new
        cookie is set. Only when the cookie will change the route, so it never loops."""
        if header_variant or not _is_page_visit(request):
            return False  # a header, not our cookie, decides the route; APIs never redirect
        wants_v2 = target == Variant.B
        if (settings.APP_VARIANT == "v2") == wants_v2:
            return False  # already served by the right app
        if (cookie_variant == Variant.B) == wants_v2:
            return False  # the request is already routed by this variant: no loop
        # Only clients known to keep our cookies, or (as the split needs) a visitor assigned
        # B just now: a client that drops cookies would otherwise bounce forever.
        return bool(known_visitor) or (wants_v2 and context is not None and context.created)
