"""CSRF protection on every form of the web app: each POST form carries a token, and a
POST without one is refused with a friendly page."""

import re

import pytest
from django.test import Client

from tests.webapp.reviews.factories import PredictionFactory
from webapp.reviews.models import Prediction

pytestmark = pytest.mark.django_db

POST_FORM = re.compile(r"<form\b[^>]*method=\"?post\"?[^>]*>(.*?)</form>", re.I | re.S)


@pytest.fixture
def prediction() -> Prediction:
    return PredictionFactory()


@pytest.fixture
def browser() -> Client:
    """A client that enforces CSRF as a browser session does. Its page loads follow
    redirects: the installed experiment sends a visitor it assigns B to the same page again."""
    return Client(enforce_csrf_checks=True, HTTP_ACCEPT="text/html")


def form_pages(prediction) -> list[str]:
    return ["/", f"/predictions/{prediction.id}", "/batch", "/admin/login/"]


def test_every_post_form_carries_a_token(browser, prediction):
    for path in form_pages(prediction):
        page = browser.get(path, follow=True)
        assert page.status_code == 200, path
        forms = POST_FORM.findall(page.content.decode())
        assert forms, f"{path} has no POST form"
        for body in forms:
            assert 'name="csrfmiddlewaretoken"' in body, path


@pytest.mark.parametrize("target", ["/", "feedback", "/batch", "/admin/login/"])
def test_a_post_without_token_is_refused(browser, prediction, target):
    path = f"/predictions/{prediction.id}/feedback" if target == "feedback" else target
    browser.get(path if target != "feedback" else f"/predictions/{prediction.id}", follow=True)
    response = browser.post(
        path, {"review": "x", "correct": "true", "username": "a", "password": "b"}
    )
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert not prediction.__class__.objects.filter(review="x").exists()


def test_a_token_from_another_session_is_refused(prediction):
    attacker, victim = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    page = attacker.get("/", follow=True).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    victim.get("/", follow=True)
    assert victim.post("/", {"review": "forged", "csrfmiddlewaretoken": token}).status_code == 403
