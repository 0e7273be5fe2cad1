"""End to end on real servers: the model service and the web app under gunicorn, a real
database, and a real headless browser (Debian chromium) typing into the page."""

import re
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.test import Client

from tests.support.servers import free_port, server_database_url, start_server
from webapp.reviews.models import FailedPrediction, Feedback, Prediction

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

UNICODE_REVIEW = 'Crème brûlée «parfaite» 🍮🔥, the chef\'s "secret" sauce — ¡increíble! 日本語'


@pytest.fixture(scope="module")
def webapps(django_db_setup, modelsvc_server, tmp_path_factory):
    """A v1 and a v2 web app on the test database, talking to the real model service."""
    database_url = server_database_url()
    servers = {}
    try:
        for variant in ("v1", "v2"):
            servers[variant] = start_server(
                "webapp",
                tmp_path_factory.mktemp(f"webapp-{variant}"),
                {
                    "DATABASE_URL": database_url,
                    "MODEL_SERVICE_URL": modelsvc_server.url,
                    "APP_VARIANT": variant,
                },
            )
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def model_version(modelsvc_server) -> str:
    return requests.get(f"{modelsvc_server.url}/version", timeout=5).json()["model_version"]


def _review_with_javascript(base_url: str, screenshot: Path, variant: str):
    def script(page):
        page.goto(f"{base_url}/")
        page.get_by_label("Your review").fill(UNICODE_REVIEW)
        page.get_by_role("button", name="Analyze review").click()
        card = page.locator("#result [data-result]")
        card.locator("[data-field=model_version]").filter(has_text=re.compile(r"\S")).wait_for()
        shown = {
            "url": page.url,
            "emoji": card.locator("[data-field=emoji]").first.inner_text(),
            "sentiment": card.locator("[data-field=sentiment_label]").inner_text(),
            "confidence": card.locator("[data-field=confidence_percent]").inner_text(),
            "app_version": card.locator("[data-field=app_version]").inner_text(),
            "model_version": card.locator("[data-field=model_version]").inner_text(),
            "review": card.locator("[data-field=review]").inner_text(),
            "focused": page.evaluate("document.activeElement.dataset.focus !== undefined"),
        }
        if variant == "v2":
            page.get_by_role("button", name="Yes, this is right").click()
        else:
            page.get_by_role("button", name="Correct").click()
        done = card.locator("[data-feedback-done]")
        done.wait_for(state="visible")
        shown["thanks"] = done.inner_text()
        shown["feedback_form_hidden"] = card.locator("form[data-feedback]").is_hidden()
        page.screenshot(path=str(screenshot), full_page=True)
        return shown

    return script


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_a_visitor_reviews_and_gives_feedback(
    variant, webapps, model_version, chromium, transactional_db, tmp_path
):
    screenshot = tmp_path / f"result-{variant}.png"
    shown, errors = chromium.run(_review_with_javascript(webapps[variant].url, screenshot, variant))

    assert errors == []
    prediction = Prediction.objects.get()
    assert prediction.review == UNICODE_REVIEW
    assert prediction.app_variant == variant
    assert shown["url"].endswith(f"/predictions/{prediction.id}")
    assert shown["emoji"] == prediction.emoji
    assert shown["sentiment"] == prediction.get_sentiment_display()
    assert shown["confidence"] == f"{prediction.confidence_percent}%"
    assert shown["app_version"] == settings.APP_VERSION
    assert shown["model_version"] == model_version == prediction.model_version
    assert shown["review"] == UNICODE_REVIEW
    assert shown["focused"]
    assert "correct" in shown["thanks"]
    assert shown["feedback_form_hidden"]
    assert Feedback.objects.count() == 1
    assert Feedback.objects.get().prediction_id == prediction.id
    assert Feedback.objects.get().correct is True
    assert screenshot.stat().st_size > 10_000


def test_the_page_works_without_javascript(webapps, chromium, transactional_db, tmp_path):
    def script(page):
        page.goto(f"{webapps['v1'].url}/")
        page.get_by_label("Your review").fill("Bland food and a rude, slow waiter.\nNever again.")
        page.get_by_role("button", name="Analyze review").click()
        page.wait_for_url(re.compile(r"/predictions/[0-9a-f-]{36}"))
        sentiment = page.locator("#result [data-field=sentiment_label]").inner_text()
        page.get_by_role("button", name="Wrong").click()
        page.wait_for_url(re.compile(r"/predictions/[0-9a-f-]{36}"))
        thanks = page.locator("#result [data-feedback-done]").inner_text()
        page.screenshot(path=str(tmp_path / "no-javascript.png"), full_page=True)
        return sentiment, thanks

    (sentiment, thanks), errors = chromium.run(script, javascript=False, phone=True)

    assert errors == []
    prediction = Prediction.objects.get()
    assert prediction.review == "Bland food and a rude, slow waiter.\nNever again."
    assert sentiment == prediction.get_sentiment_display()
    assert "You said this result was wrong." in thanks
    assert Feedback.objects.get().correct is False


def test_unicode_round_trip_through_the_real_model_service(real_model, db):
    api = Client().post("/api/analyze", {"review": UNICODE_REVIEW}, content_type="application/json")
    assert api.status_code == 200
    assert api.json()["sentiment"] in {"positive", "negative"}
    page_client = Client()
    response = page_client.post("/", {"review": UNICODE_REVIEW})
    assert response.status_code == 303
    html = page_client.get(response["Location"]).content.decode()
    assert "Crème brûlée «parfaite» 🍮🔥, the chef&#x27;s &quot;secret&quot; sauce" in html
    assert [p.review for p in Prediction.objects.all()] == [UNICODE_REVIEW, UNICODE_REVIEW]


@pytest.fixture
def webapp_without_model(live_database_url, tmp_path):
    """A web app whose model service is not running (nothing listens on its port)."""
    with start_server(
        "webapp",
        tmp_path,
        {"DATABASE_URL": live_database_url, "MODEL_SERVICE_URL": f"http://127.0.0.1:{free_port()}"},
    ) as server:
        yield server


def test_a_stopped_model_service_degrades_gracefully(webapp_without_model, chromium, tmp_path):
    url = webapp_without_model.url
    response = requests.post(
        f"{url}/api/analyze", json={"review": "Is anyone cooking?"}, timeout=10
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "model_unavailable"

    version = requests.get(f"{url}/api/version", timeout=10)
    assert version.status_code == 200
    assert version.json()["model_service"] is None
    assert version.json()["model_service_error"] == "unavailable"
    assert requests.get(f"{url}/health/ready", timeout=10).status_code == 200

    def script(page):
        page.goto(f"{url}/")
        page.get_by_label("Your review").fill("Still waiting for my soup 🍲")
        page.get_by_role("button", name="Analyze review").click()
        status = page.locator("#status")
        status.filter(has_text="not available").wait_for()
        page.screenshot(path=str(tmp_path / "model-down.png"), full_page=True)
        return status.inner_text(), page.get_by_label("Your review").input_value()

    (message, kept), errors = chromium.run(script)
    assert "The sentiment model is not available right now" in message
    assert kept == "Still waiting for my soup 🍲"
    # The browser reports the 503 answer of the API call as a console error; nothing else.
    assert all("503" in error for error in errors)
    reviews = sorted(FailedPrediction.objects.values_list("review", "reason"))
    assert reviews == [
        ("Is anyone cooking?", "unavailable"),
        ("Still waiting for my soup 🍲", "unavailable"),
    ]


def test_readiness_fails_without_a_database(tmp_path):
    server = start_server(
        "webapp",
        tmp_path,
        {"DATABASE_URL": f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"},
        ready_path="/health/live",
    )
    try:
        response = requests.get(f"{server.url}/health/ready", timeout=10)
    finally:
        server.stop()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"
