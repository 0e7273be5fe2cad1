"""Puts page visits and identified API clients in the experiments that steer routing.

Sets ``request.experiment`` (an ``ExperimentArm``, or None when no experiment is live,
the client takes no part, or the other version's app serves the request), the model
experiment's arm ``request.model_experiment`` (which model classifies the visitor's reviews;
drawn independently, never chosen by the client) and the two cookies:
``sentiment_visitor`` (who the visitor is) and ``x-user-experiment`` (A or B: the mesh sends
B to v2, everything else to v1). The variant cookie always ends up as the variant the
experiment gives now, so a rollback moves visitors back to v1 on their next request.
"""

import logging
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.http import escape_leading_slashes

from core.metrics import EXPERIMENT_ASSIGNMENTS
from webapp.experiments import services
from webapp.experiments.arm import ExperimentArm, set_arm, set_model_arm
from webapp.experiments.models import Experiment, Kind, Source, Variant

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


def visitor_id(request: HttpRequest) -> str:
    """Who sent the request as the experiments know visitors: our visitor cookie, else the
    API client's x-user-id; blank when it names neither."""
    return (
        safe_token(request.COOKIES.get(VISITOR_COOKIE))
        or safe_token(request.headers.get(USER_ID_HEADER))
        or ""
    )


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


@dataclass(frozen=True)
class Visitor:
    """Who sent a request that takes part, and what it says about its variant."""

    id: str
    known_id: str | None  # our visitor cookie, when it came back
    header_variant: str | None
    cookie_variant: str | None

    @property
    def requested_variant(self) -> str | None:
        """The variant the client chose itself: the header, or a variant cookie that came
        without our visitor cookie (ours always come back together)."""
        return self.header_variant or (None if self.known_id else self.cookie_variant)


@dataclass(frozen=True)
class Assigned:
    """The visitor's arm, and the variant the routing cookie must say (None when no
    experiment steers routing); and the arm of the model experiment."""

    arm: ExperimentArm | None
    target: str | None
    model_arm: ExperimentArm | None = None


NOT_ASSIGNED = Assigned(arm=None, target=None)


class ExperimentMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        static = settings.STATIC_URL or ""
        local_static = () if "://" in static else ("/" + static.lstrip("/"),)
        self.skipped = SKIPPED_PREFIXES + local_static

    def __call__(self, request: HttpRequest) -> HttpResponse:
        visitor = self.identify(request)
        if visitor is None:
            set_arm(request, None)
            set_model_arm(request, None)
            return self.get_response(request)
        assigned = self.assign(visitor)
        set_model_arm(request, assigned.model_arm)
        response = self.route(request, visitor, assigned)
        self.write_cookies(response, visitor, assigned)
        return response

    def identify(self, request: HttpRequest) -> Visitor | None:
        """The visitor behind the request; None when the request takes no part."""
        if request.path.startswith(self.skipped):
            return None
        known_id = safe_token(request.COOKIES.get(VISITOR_COOKIE))
        header_variant = valid_variant(request.headers.get(VARIANT_HEADER))
        user_id = safe_token(request.headers.get(USER_ID_HEADER))
        if not (known_id or user_id or header_variant or _is_page_visit(request)):
            # A client that keeps no cookie and names no id would be a new visitor on every
            # call, inflating visitors and the split check: it takes no part.
            return None
        return Visitor(
            id=known_id or user_id or secrets.token_urlsafe(16),
            known_id=known_id,
            header_variant=header_variant,
            cookie_variant=valid_variant(request.COOKIES.get(VARIANT_COOKIE)),
        )

    @staticmethod
    def assign(visitor: Visitor) -> Assigned:
        """The visitor's arms in the experiments that steer routing, if there are any."""
        try:
            steering = services.steering_experiments()
            frontend: Experiment | None = steering.get(Kind.FRONTEND)
            model: Experiment | None = steering.get(Kind.MODEL)
            arm = (
                services.assign(
                    visitor.id, experiment=frontend, requested_variant=visitor.requested_variant
                )
                if frontend
                else None
            )
            model_arm = services.assign(visitor.id, experiment=model) if model else None
        except DatabaseError as exc:
            # Serve the request as if no experiment ran rather than fail the page.
            logger.warning("experiment assignment unavailable: %s", exc)
            return NOT_ASSIGNED
        if frontend is None:
            return Assigned(arm=None, target=None, model_arm=model_arm)
        # A steering experiment that is not live (draft, paused) routes everyone to A.
        return Assigned(arm=arm, target=arm.variant if arm else Variant.A, model_arm=model_arm)

    def route(self, request: HttpRequest, visitor: Visitor, assigned: Assigned) -> HttpResponse:
        """Serve the request, or redirect it to itself so that the app of the visitor's
        variant serves it once the new cookie is set."""
        arm = assigned.arm
        # A request the other version's app serves (an API call before the cookie routes it)
        # is not evidence about this variant: the statistics must compare v1 with v2.
        served_by_its_app = arm is None or (
            (arm.variant == Variant.B) == (settings.APP_VARIANT == "v2")
        )
        set_arm(request, arm if served_by_its_app else None)
        if assigned.target and _should_redirect(request, visitor, arm, assigned.target):
            # A path starting with // would be an off-site URL in Location.
            response = HttpResponseRedirect(escape_leading_slashes(request.get_full_path()))
            add_never_cache_headers(response)
            return response
        return self.get_response(request)

    @staticmethod
    def write_cookies(response: HttpResponse, visitor: Visitor, assigned: Assigned) -> None:
        """Remember the visitor, and make the variant cookie the mesh routes on say the
        variant the experiment gives now."""
        if visitor.id != visitor.known_id:
            _set_cookie(response, VISITOR_COOKIE, visitor.id)
        target, arm = assigned.target, assigned.arm
        if not target:
            return
        if target != visitor.cookie_variant:
            # The mesh reads this cookie from the request; no page script needs it.
            _set_cookie(response, VARIANT_COOKIE, target)
            if arm and arm.source in (Source.ROLLBACK, Source.PROMOTE):
                # Hash and client assignments are counted when stored (services.assign).
                EXPERIMENT_ASSIGNMENTS.labels(arm.experiment, target, arm.source).inc()
        patch_vary_headers(response, ("Cookie", VARIANT_HEADER, USER_ID_HEADER))


def _set_cookie(response: HttpResponse, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.VISITOR_COOKIE_SECURE,
    )


def _should_redirect(
    request: HttpRequest, visitor: Visitor, arm: ExperimentArm | None, target: str
) -> bool:
    """Whether to answer a page request with a redirect to itself, so that the page comes
    from the app of the visitor's variant (v1 for A, v2 for B) once the new cookie is set.
    Only when the cookie will change the route, so it never loops."""
    if visitor.header_variant or not _is_page_visit(request):
        return False  # a header, not our cookie, decides the route; APIs never redirect
    wants_v2 = target == Variant.B
    if (settings.APP_VARIANT == "v2") == wants_v2:
        return False  # already served by the right app
    if (visitor.cookie_variant == Variant.B) == wants_v2:
        return False  # the request is already routed by this variant: no loop
    # Only clients known to keep our cookies, or (as the split needs) a visitor assigned
    # B just now: a client that drops cookies would otherwise bounce forever.
    return bool(visitor.known_id) or (wants_v2 and arm is not None and arm.created)
