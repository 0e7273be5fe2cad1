"""Error answers: JSON for API clients, a friendly page for people; the base template."""

import json

import pytest
from django.core.exceptions import RequestDataTooBig
from django.template.loader import render_to_string
from django.test import RequestFactory

from webapp.experiments.arm import ExperimentArm
from webapp.reviews import errors
from webapp.reviews.context import versions

rf = RequestFactory()


@pytest.mark.parametrize(
    ("handler", "args", "status", "code"),
    [
        (errors.handler400, (None,), 400, "bad_request"),
        (
            errors.handler400,
            (RequestDataTooBig("Request body exceeded"),),
            413,
            "request_too_large",
        ),
        (errors.handler403, (None,), 403, "permission_denied"),
        (errors.handler404, (None,), 404, "not_found"),
        (errors.handler500, (), 500, "internal_error"),
        (errors.csrf_failure, ("no token",), 403, "csrf_failed"),
    ],
)
def test_api_paths_get_json_and_pages_get_html(handler, args, status, code):
    api = handler(rf.post("/api/analyze"), *args)
    assert api.status_code == status
    assert api["Content-Type"] == "application/json"
    assert json.loads(api.content)["error"]["code"] == code

    page = handler(rf.post("/"), *args)
    assert page.status_code == status
    assert page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert "<h1>" in html
    assert 'href="/"' in html
    assert "Traceback" not in html


def test_the_csrf_page_explains_what_to_do():
    html = errors.csrf_failure(rf.post("/"), "CSRF cookie not set.").content.decode()
    assert "reload the page" in html


def test_versions_in_templates(settings):
    settings.APP_VARIANT = "v2"
    request = rf.get("/")
    request.experiment = ExperimentArm(
        experiment="frontend-v2", variant="B", visitor_id="v-1", phase=2, source="hash"
    )
    assert versions(request) == {
        "APP_VERSION": settings.APP_VERSION,
        "APP_VARIANT": "v2",
        "EXPERIMENT_VARIANT": "B",
    }
    assert versions(rf.get("/"))["EXPERIMENT_VARIANT"] == ""


def test_base_template_has_blocks_others_can_fill(tmp_path, settings):
    (tmp_path / "child.html").write_text(
        '{% extends "base.html" %}{% block title %}Child{% endblock %}'
        "{% block content %}<p>child content</p>{% endblock %}"
        '{% block scripts %}<script src="/static/child.js"></script>{% endblock %}'
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    request = rf.get("/")
    request.experiment = ExperimentArm(
        experiment="e", variant="A", visitor_id="v", phase=1, source="hash"
    )
    html = render_to_string("child.html", request=request)
    assert "<title>Child · Sentiment</title>" in html
    assert "<p>child content</p>" in html
    assert '<script src="/static/child.js"></script>' in html
    assert f"App {settings.APP_VERSION}" in html
    assert "Group A" in html
