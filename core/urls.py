"""The routes every service serves beside its own: Prometheus metrics, the OpenAPI schema and
its browsable docs (the README's API tables list them for both services)."""

from django.urls import URLPattern, path
from django_prometheus.exports import ExportToDjangoView
from drf_spectacular.views import SpectacularAPIView

from core.schema import DocsView

OPERATIONAL_URLS: list[URLPattern] = [
    path("metrics", ExportToDjangoView, name="metrics"),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", DocsView.as_view(url_name="schema"), name="docs"),
]
