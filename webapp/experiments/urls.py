from django.urls import path

from webapp.experiments import api

app_name = "experiments"

urlpatterns = [
    path("api/experiments/<slug:name>/stats", api.StatsView.as_view(), name="api-stats"),
    path("api/experiments/<slug:name>/stats.csv", api.StatsCsvView.as_view(), name="api-stats-csv"),
]
