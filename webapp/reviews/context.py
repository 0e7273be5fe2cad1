"""What a request tells the reviews app: versions for templates, the request id."""

from django.conf import settings
from django.http import HttpRequest

from webapp.experiments.arm import recorded_arm
from webapp.reviews import client


def request_id_of(request: HttpRequest) -> str:
    return client.request_id_from(request.headers.get("x-request-id"))


def versions(request: HttpRequest) -> dict:
    """Template context: the running app version and variant, and the visitor's A/B group."""
    arm = recorded_arm(request)
    return {
        "APP_VERSION": settings.APP_VERSION,
        "APP_VARIANT": settings.APP_VARIANT,
        "EXPERIMENT_VARIANT": arm.variant if arm else "",
    }
