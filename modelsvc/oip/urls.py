"""Routes of the Open Inference Protocol (KServe v2 REST), included at the service root.

Inference first: Django tries patterns in order, and it is the route that carries the load.
"""

from django.urls import path, re_path

from modelsvc.oip import views

_model = "v2/models/<str:name>"
_versioned = "v2/models/<str:name>/versions/<str:version>"

urlpatterns = [
    path(f"{_model}/infer", views.InferView.as_view(), name="oip-infer"),
    path(f"{_versioned}/infer", views.InferView.as_view(), name="oip-version-infer"),
    path("v2", views.ServerMetadataView.as_view(), name="oip-server-metadata"),
    path("v2/health/live", views.ServerLiveView.as_view(), name="oip-live"),
    path("v2/health/ready", views.ServerReadyView.as_view(), name="oip-ready"),
    path(_model, views.ModelMetadataView.as_view(), name="oip-model-metadata"),
    path(f"{_model}/ready", views.ModelReadyView.as_view(), name="oip-model-ready"),
    path(_versioned, views.ModelMetadataView.as_view(), name="oip-version-metadata"),
    path(f"{_versioned}/ready", views.ModelReadyView.as_view(), name="oip-version-ready"),
    re_path(r"^v2/", views.NotFoundView.as_view(), name="oip-not-found"),
]
