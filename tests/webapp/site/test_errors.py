"""Error answers: JSON for programs, a friendly page for people, by one rule and one page."""

import json

import pytest
from axes.helpers import get_cool_off
from django.core.exceptions import RequestDataTooBig
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.test import RequestFactory
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from webapp.site import errors

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


# Programs read /api/, /health/ and /metrics; people read everything else, the admin
# included. A path merely starting with "metrics" is an unknown page, not the exporter.
MACHINE_PATHS = ["/api/analyze", "/api/batch/x/results.csv", "/health/live", "/metrics"]
PEOPLE_PATHS = ["/", "/batch", "/admin/login/", "/predictions/x", "/apis", "/metricsx", "/x/api/"]


@pytest.mark.parametrize("path", MACHINE_PATHS + PEOPLE_PATHS)
def test_every_error_answer_follows_the_one_json_rule(path):
    expected = path in MACHINE_PATHS
    assert errors.wants_json(rf.get(path)) is expected
    answers = {
        "not found": errors.handler404(rf.get(path)),
        "server error": errors.handler500(rf.get(path)),
        "csrf": errors.csrf_failure(rf.post(path)),
        "database outage": errors.unavailable_response(rf.get(path)),
    }
    kinds = {name: answer["Content-Type"] for name, answer in answers.items()}
    wanted = "application/json" if expected else "text/html; charset=utf-8"
    assert kinds == dict.fromkeys(answers, wanted)


def test_a_json_error_reads_the_same_inside_and_outside_drf():
    """The outage raised in an API view (DRF's handler) and outside one (the middleware)
    give the same bytes, so clients never see two spellings of one error."""
    inside = errors.api_exception_handler(OperationalError("gone"), {"request": None})
    assert isinstance(inside, Response)
    inside.accepted_renderer = JSONRenderer()
    inside.accepted_media_type = JSONRenderer.media_type
    inside.renderer_context = {}
    inside.render()
    outside = errors.unavailable_response(rf.get("/api/analyze"))
    assert inside.status_code == outside.status_code == 503
    assert inside.content == outside.content
    assert json.loads(outside.content) == {
        "error": {"code": "database_unavailable", "message": errors._OUTAGE_API_MESSAGE}
    }
    for header in ("Content-Type", "Retry-After", "Cache-Control"):
        assert inside[header] == outside[header], header


def test_other_api_exceptions_keep_the_shared_handler():
    response = errors.api_exception_handler(ValueError("boom"), {"view": None})
    assert response.status_code == 500
    assert response.data["error"]["code"] == "internal_error"


def test_a_database_outage_page_is_friendly_and_never_cached():
    response = errors.unavailable_response(rf.get("/batch"))
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    assert "<h1>We will be right back</h1>" in html
    assert 'href="/"' in html  # rendered from the site's error page, not the bare fallback


@pytest.mark.parametrize("exc", [OperationalError("down"), InterfaceError("closed")])
def test_the_middleware_turns_a_lost_database_into_503(exc):
    middleware = errors.DatabaseUnavailableMiddleware(lambda request: HttpResponse())
    answer = middleware.process_exception(rf.get("/api/analyze"), exc)
    assert answer.status_code == 503
    assert middleware.process_exception(rf.get("/"), ValueError("not ours")) is None


def test_a_500_caused_by_the_database_outside_a_view_becomes_503():
    """Django turns an error raised in another middleware into a 500 before ours sees it;
    the got_request_exception signal marks the request so the 500 is replaced."""

    def failing(request):
        try:
            raise OperationalError("connection lost")
        except OperationalError:
            got_request_exception.send(sender=None, request=request)
        return HttpResponse(status=500)

    request = rf.get("/")
    assert errors.DatabaseUnavailableMiddleware(failing)(request).status_code == 503
    plain_500 = errors.DatabaseUnavailableMiddleware(lambda r: HttpResponse(status=500))
    assert plain_500(rf.get("/")).status_code == 500


def test_the_lockout_page_says_when_to_retry(settings):
    request = rf.post("/admin/login/")
    response = errors.lockout_response(request)
    assert response.status_code == settings.AXES_HTTP_RESPONSE_CODE == 429
    seconds = int(get_cool_off(request).total_seconds())
    assert response["Retry-After"] == str(seconds)
    html = response.content.decode()
    assert "Too many failed sign-in attempts" in html
    assert f"Try again in {seconds // 60} minutes." in html


def test_the_fallback_page_is_escaped_when_the_error_template_fails(tmp_path, settings):
    # A template found before the real one that cannot render stands for any failure.
    (tmp_path / "errors").mkdir()
    (tmp_path / "errors" / "error.html").write_text('{% extends "no-such-base.html" %}')
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    response = errors.page(418, "Tea & <cups>", "Short & stout <b>", request=rf.get("/"))
    assert response.status_code == 418
    html = response.content.decode()
    assert "<title>Tea &amp; &lt;cups&gt;</title>" in html
    assert "<p>Short &amp; stout &lt;b&gt;</p>" in html


def test_every_page_comes_from_the_one_page_function(tmp_path, settings):
    """Error views, the lockout and the outage all render the same site template."""
    (tmp_path / "errors").mkdir()
    (tmp_path / "errors" / "error.html").write_text("[[{{ title }}|{{ message }}]]")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    bodies = [
        errors.handler404(rf.get("/nowhere")).content,
        errors.lockout_response(rf.post("/admin/login/")).content,
        errors.unavailable_response(rf.get("/")).content,
    ]
    assert [body.startswith(b"[[") and body.endswith(b"]]") for body in bodies] == [True] * 3
