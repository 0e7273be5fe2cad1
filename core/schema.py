"""OpenAPI pieces shared by both services: the documented error shape and the docs page."""

from csp.constants import HEADER as CSP_HEADER
from csp.utils import build_policy
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import serializers

ErrorResponse = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.JSONField(required=False),
            },
        )
    },
)


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Responses entries documenting the error body for each status code."""
    return {code: OpenApiResponse(ErrorResponse) for code in codes}


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI under the strict Content Security Policy: its start-up script is served as
    a file (``?script``) and the page has no inline style, so nothing inline has to run.

    The policy is set here too, so the model service (which has no CSP middleware on its
    prediction path) sends the same one as the web app for the one HTML page it serves.
    """

    template_name = "api_docs.html"

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response.setdefault(CSP_HEADER, build_policy())
        return response
