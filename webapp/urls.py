from django.contrib import admin
from django.urls import include, path
from django_prometheus.exports import ExportToDjangoView
from drf_spectacular.views import SpectacularAPIView

from core.schema import DocsView
from webapp.site.views import favicon

urlpatterns = [
    path("", include("webapp.reviews.urls")),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
    path("metrics", ExportToDjangoView, name="metrics"),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", DocsView.as_view(url_name="schema"), name="docs"),
    path("", include("webapp.batch.urls")),
]

handler400 = "webapp.site.errors.handler400"
handler403 = "webapp.site.errors.handler403"
handler404 = "webapp.site.errors.handler404"
handler500 = "webapp.site.errors.handler500"
