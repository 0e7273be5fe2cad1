"""What a request tells the reviews app: versions for templates, experiment, request id."""

from django.conf import settings
from django.http import HttpRequest

from webapp import modelservice
from webapp.reviews.services import Assignment


def assignment_of(request: HttpRequest) -> Assignment:
    # Set by the experiments middleware; absent when it is not installed.
    return Assignment.of(getattr(request, "experiment", None))


def request_id_of(request: HttpRequest) -> str:
    return modelservice.request_id_from(request.headers.get("x-request-id"))


def versions(request: HttpRequest) -> dict:
    """Template context: the running app version and variant, and the visitor's A/B group."""
    return {
        "APP_VERSION": settings.APP_VERSION,
        "APP_VARIANT": settings.APP_VARIANT,
        "EXPERIMENT_VARIANT": assignment_of(request).variant,
    }
