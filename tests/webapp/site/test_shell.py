"""The site shell: the base template every app extends and the versions it shows."""

from types import SimpleNamespace

from django.template.loader import render_to_string
from django.test import Client, RequestFactory

from webapp.experiments.arm import ExperimentArm
from webapp.site.context import versions

rf = RequestFactory()


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
    # The versions are small print in the footer; the experiment group is for staff only.
    assert f'<p class="build">Sentiment {settings.APP_VERSION} (v1)</p>' in html
    assert "group" not in html.lower()
    request.user = SimpleNamespace(is_staff=True)
    assert "· group A</p>" in render_to_string("child.html", request=request)
    assert '<link rel="stylesheet" href="/static/site/site.css">' in html
    assert '<link rel="icon" href="/static/site/favicon.svg" type="image/svg+xml">' in html


def test_browsers_asking_for_favicon_ico_get_the_icon():
    client = Client()
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/site/favicon.svg"
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/svg+xml"


def test_the_shell_stylesheet_is_served():
    response = Client().get("/static/site/site.css")
    assert response.status_code == 200
    css = b"".join(response.streaming_content)
    assert b".site-header" in css and b".button" in css
