from django.contrib import admin
from django.urls import include, path

from core.urls import OPERATIONAL_URLS
from webapp.site.views import favicon

urlpatterns = [
    path("", include("webapp.reviews.urls")),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
    *OPERATIONAL_URLS,
    path("", include("webapp.batch.urls")),
    path("", include("webapp.experiments.urls")),
]

handler400 = "webapp.site.errors.handler400"
handler403 = "webapp.site.errors.handler403"
handler404 = "webapp.site.errors.handler404"
handler500 = "webapp.site.errors.handler500"
