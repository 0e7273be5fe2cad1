"""RequestMetricsMiddleware: bounded labels for every request of the web app."""

import uuid
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import resolve
from prometheus_client import REGISTRY

from tests.webapp.experiments.helpers import HTML, make_experiment
from webapp.experiments.models import Experiment
from webapp.observability import RequestMetricsMiddleware

pytestmark = pytest.mark.urls("webapp.urls")


def requests_count(**labels) -> float:
    labels = {"app_version": settings.APP_VERSION, **labels}
    return REGISTRY.get_sample_value("sentiment_app_requests_total", labels) or 0.0


def requests_by_route(route: str, status_class: str) -> float:
    """Requests of a route and status class, whatever variant the visitor was given."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "sentiment_app_requests"
        for sample in metric.samples
        if sample.name == "sentiment_app_requests_total"
        and sample.labels["route"] == route
        and sample.labels["status_class"] == status_class
    )


def latency_count(**labels) -> float:
    labels = {"app_version": settings.APP_VERSION, **labels}
    return REGISTRY.get_sample_value("sentiment_app_request_seconds_count", labels) or 0.0


def run(request, status=200, experiment=None):
    """Pass ``request`` through the middleware to a view answering ``status``."""

    def view(req):
        req.experiment = experiment
        return HttpResponse(status=status)

    return RequestMetricsMiddleware(view)(request)


def test_app_info_is_set_when_the_middleware_starts():
    RequestMetricsMiddleware(lambda request: HttpResponse())
    info = REGISTRY.get_sample_value(
        "sentiment_app_info",
        {"app_version": settings.APP_VERSION, "app_variant": settings.APP_VARIANT},
    )
    assert info == 1


@pytest.mark.parametrize(
    ("experiment", "variant"),
    [
        (SimpleNamespace(variant="A"), "A"),
        (SimpleNamespace(variant="B"), "B"),
        (SimpleNamespace(variant=""), "none"),
        (SimpleNamespace(variant="<script>"), "none"),  # never a label value from elsewhere
        (None, "none"),
    ],
)
def test_variant_comes_from_the_experiment(experiment, variant):
    request = RequestFactory().get("/health/live")
    request.resolver_match = resolve("/health/live")
    before = requests_count(variant=variant, route="reviews:live", status_class="2xx")
    run(request, experiment=experiment)
    assert requests_count(variant=variant, route="reviews:live", status_class="2xx") == before + 1


@pytest.mark.parametrize(("status", "status_class"), [(201, "2xx"), (302, "3xx"), (503, "5xx")])
def test_status_is_counted_by_class(status, status_class):
    request = RequestFactory().get("/health/ready")
    request.resolver_match = resolve("/health/ready")
    labels = {"variant": "none", "route": "reviews:ready", "status_class": status_class}
    before = requests_count(**labels)
    run(request, status=status)
    assert requests_count(**labels) == before + 1


@pytest.mark.django_db
def test_real_requests_are_labelled_by_url_name_and_timed():
    client = Client()
    before = requests_count(variant="none", route="reviews:live", status_class="2xx")
    timed = latency_count(variant="none", route="reviews:live")
    assert client.get("/health/live").status_code == 200
    assert requests_count(variant="none", route="reviews:live", status_class="2xx") == before + 1
    assert latency_count(variant="none", route="reviews:live") == timed + 1


@pytest.mark.django_db
def test_unknown_paths_share_one_label_and_never_leak_into_labels():
    client = Client()
    secret = uuid.uuid4().hex
    before = requests_by_route("unmatched", "4xx")
    for n in range(3):
        assert client.get(f"/no/such/page/{secret}/{n}").status_code == 404
    assert requests_by_route("unmatched", "4xx") == before + 3
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            assert not any(secret in value for value in sample.labels.values()), sample


@pytest.mark.django_db
def test_path_parameters_do_not_become_labels():
    client = Client(raise_request_exception=False)
    ids = [uuid.uuid4() for _ in range(2)]
    before = requests_by_route("reviews:prediction", "4xx")
    for prediction_id in ids:
        assert client.get(f"/predictions/{prediction_id}").status_code == 404
    assert requests_by_route("reviews:prediction", "4xx") == before + 2


def test_a_response_made_before_url_resolution_is_labelled_by_its_route():
    request = RequestFactory().get("/health/ready")  # no resolver_match: nothing resolved yet
    labels = {"variant": "none", "route": "reviews:ready", "status_class": "3xx"}
    before = requests_count(**labels)
    run(request, status=302)
    assert requests_count(**labels) == before + 1


@pytest.mark.django_db
def test_the_experiment_redirect_is_labelled_by_the_page_it_redirects(settings):
    settings.APP_VARIANT = "v1"
    Experiment.objects.filter(steers_routing=True).update(steers_routing=False)
    make_experiment(weight=1.0, steers_routing=True)  # every new visitor is B: sent to v2
    route = resolve("/").view_name
    before = requests_by_route(route, "3xx")
    unmatched = requests_by_route("unmatched", "3xx")
    assert Client().get("/", HTTP_ACCEPT=HTML).status_code == 302
    assert requests_by_route(route, "3xx") == before + 1
    # A path no route matches keeps the one shared label, redirected or not.
    assert Client().get(f"/no/such/page/{uuid.uuid4().hex}", HTTP_ACCEPT=HTML).status_code == 302
    assert requests_by_route("unmatched", "3xx") == unmatched + 1
