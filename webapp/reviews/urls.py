from django.urls import path

from webapp.reviews import api, views

app_name = "reviews"

urlpatterns = [
    path("", views.index, name="index"),
    path("predictions/<uuid:prediction_id>", views.prediction_page, name="prediction"),
    path("predictions/<uuid:prediction_id>/feedback", views.feedback, name="feedback"),
    path("api/analyze", api.AnalyzeView.as_view(), name="api-analyze"),
    path("api/feedback", api.FeedbackView.as_view(), name="api-feedback"),
    path("api/version", api.VersionView.as_view(), name="api-version"),
    path("health/live", api.LiveView.as_view(), name="live"),
    path("health/ready", api.ReadyView.as_view(), name="ready"),
]
