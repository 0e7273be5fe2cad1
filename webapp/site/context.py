"""Template context of every page: the versions shown in the base template's header."""

from django.conf import settings
from django.http import HttpRequest

from webapp.experiments.arm import recorded_arm


def versions(request: HttpRequest) -> dict:
    """The running app version and variant, and the visitor's A/B group."""
    arm = recorded_arm(request)
    return {
        "APP_VERSION": settings.APP_VERSION,
        "APP_VARIANT": settings.APP_VARIANT,
        "EXPERIMENT_VARIANT": arm.variant if arm else "",
    }
