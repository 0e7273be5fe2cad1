from django.urls import path

from webapp.batch import api, views

app_name = "batch"

urlpatterns = [
    path("batch", views.index, name="index"),
    path("batch/<uuid:job_id>", views.job_page, name="job"),
    path("api/batch", api.BatchCollectionView.as_view(), name="api-jobs"),
    path("api/batch/<uuid:job_id>", api.BatchJobView.as_view(), name="api-job"),
    path(
        "api/batch/<uuid:job_id>/progress",
        api.BatchProgressView.as_view(),
        name="api-progress",
    ),
    path(
        "api/batch/<uuid:job_id>/results.csv",
        api.BatchResultsView.as_view(),
        name="api-results",
    ),
]
