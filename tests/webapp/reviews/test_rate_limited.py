"""A rate-limited API call in a real browser (Debian chromium): the page says when to try
again beside the button that was clicked. The gateway is not in front of this server, so
Playwright answers the API call as the gateway does: 429, our error shape, Retry-After."""

import json
import re

import pytest

from webapp.reviews.models import Feedback, Prediction

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

GATEWAY_BODY = json.dumps(
    {"error": {"code": "rate_limited", "message": "Too many requests; slow down."}}
)


def gateway_429(seconds: int):
    def answer(route):
        route.fulfill(
            status=429,
            headers={"Retry-After": str(seconds), "Content-Type": "application/json"},
            body=GATEWAY_BODY,
        )

    return answer


@pytest.fixture(scope="module")
def web(module_webapp, modelsvc_server):
    return module_webapp("rate-limited", {"MODEL_SERVICE_URL": modelsvc_server.url})


def only_429s(errors: list[str]) -> bool:
    return all("status of 429" in error for error in errors)


def test_a_rate_limited_analysis_says_when_beside_the_button(chromium, web):
    def script(page):
        page.route("**/api/analyze", gateway_429(7))
        page.goto(f"{web.url}/")
        page.get_by_label("Your review").fill("Lovely soup.")
        page.get_by_role("button", name="Analyze review").click()
        status = page.locator("#status")
        status.filter(has_text="Too many").wait_for()
        return {
            "text": status.inner_text(),
            "beside_button": page.evaluate(
                "document.getElementById('status').parentElement"
                ".contains(document.querySelector('#review-form button[type=submit]'))"
            ),
            "field_error_hidden": page.locator("#review-error").is_hidden(),
            "button_enabled": page.get_by_role("button", name="Analyze review").is_enabled(),
        }

    shown, errors = chromium.run(script)

    assert shown["text"] == "Too many requests, try again in 7 s."
    assert shown["beside_button"]
    assert shown["field_error_hidden"]  # nothing is wrong with the review
    assert shown["button_enabled"]
    assert only_429s(errors), errors
    assert not Prediction.objects.exists()


@pytest.mark.parametrize(("variant_button", "seconds"), [("Correct", 12), ("Wrong", 1)])
def test_rate_limited_feedback_says_when_beside_its_buttons(chromium, web, variant_button, seconds):
    def script(page):
        page.goto(f"{web.url}/")
        page.get_by_label("Your review").fill("Cold fries and a long wait.")
        page.get_by_role("button", name="Analyze review").click()
        card = page.locator("#result [data-result]")
        card.locator("[data-field=model_version]").filter(has_text=re.compile(r"\S")).wait_for()
        page.route("**/api/feedback", gateway_429(seconds))
        card.get_by_role("button", name=variant_button).click()
        line = card.locator("form[data-feedback] [data-feedback-status]")
        line.wait_for(state="visible")
        shown = {
            "text": line.inner_text(),
            "page_status": page.locator("#status").inner_text(),
            "form_visible": card.locator("form[data-feedback]").is_visible(),
        }
        # Once the gateway lets it through, the same button works.
        page.unroute("**/api/feedback")
        card.get_by_role("button", name=variant_button).click()
        card.locator("[data-feedback-done]").wait_for(state="visible")
        shown["after"] = line.is_hidden()
        return shown

    shown, errors = chromium.run(script)

    assert shown["text"] == f"Too many requests, try again in {seconds} s."
    assert shown["page_status"] == ""  # said beside the feedback buttons, not elsewhere
    assert shown["form_visible"]
    assert shown["after"]
    assert only_429s(errors), errors
    assert Feedback.objects.get().correct is (variant_button == "Correct")
