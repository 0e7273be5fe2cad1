"""A tiny URLconf for middleware and admin tests: one page, one JSON API, probe paths."""

from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.urls import path

from webapp.experiments.arm import recorded_arm, served_columns


def _seen(request) -> dict:
    experiment = request.experiment
    if experiment is None:
        return {"experiment": None}
    return {
        "experiment": experiment.experiment,
        "variant": experiment.variant,
        "visitor_id": experiment.visitor_id,
        "phase": experiment.phase,
        "source": experiment.source,
    }


def page(request):
    seen = _seen(request)
    return HttpResponse(f"<!doctype html><title>page</title><p>{seen.get('variant', '-')}</p>")


def api(request):
    return JsonResponse(_seen(request))


def job(request, job_id):
    return api(request)


def stored_as(request):
    """What a prediction made by this request would be stored under (its frontend arm)."""
    columns = served_columns(recorded_arm(request))
    return JsonResponse({k: columns[k] for k in ("experiment", "variant", "visitor_id")})


urlpatterns = [
    path("", page),
    path("page", page),
    path("api/echo", api),
    path("api/stored-as", stored_as),
    path("api/batch/<uuid:job_id>", job),
    path("health/live", api),
    path("metrics", api),
    path("static/missing.css", api),
    path("admin/", admin.site.urls),
]
