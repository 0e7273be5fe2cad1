from django.urls import include, path
from django_prometheus.exports import ExportToDjangoView
from drf_spectacular.views import SpectacularAPIView

from core.schema import DocsView
from modelsvc.api import views

urlpatterns = [
    path("analyze", views.AnalyzeView.as_view(), name="analyze"),
    path("analyze/batch", views.BatchAnalyzeView.as_view(), name="analyze-batch"),
    path("version", views.VersionView.as_view(), name="version"),
    path("health/live", views.LiveView.as_view(), name="live"),
    path("health/ready", views.ReadyView.as_view(), name="ready"),
    path("metrics", ExportToDjangoView, name="metrics"),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", DocsView.as_view(url_name="schema"), name="docs"),
    path("", include("modelsvc.oip.urls")),
]

handler400 = "core.errors.handler400"
handler403 = "core.errors.handler403"
handler404 = "core.errors.handler404"
handler500 = "core.errors.handler500"
