"""OpenAPI pieces shared by both services: the documented error shape."""

from drf_spectacular.utils import OpenApiResponse, inline_serializer
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
