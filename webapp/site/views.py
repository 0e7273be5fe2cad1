"""Site-wide views: the icon browsers ask for at /favicon.ico."""

from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

FAVICON = "site/favicon.svg"


@require_safe
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Pages link the icon themselves; browsers still ask here for pages that do not (the
    admin's). Not permanent: the icon's hashed name changes with its content."""
    response = HttpResponseRedirect(static(FAVICON))
    patch_cache_control(response, public=True, max_age=86400)
    return response
