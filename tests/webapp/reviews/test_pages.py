"""The review page without JavaScript: forms, CSRF, results, feedback, errors, v1 and v2."""

import re

import pytest
from django.conf import settings
from django.test import Client

from webapp.reviews.models import FailedPrediction, Feedback, Prediction

pytestmark = pytest.mark.django_db

RESULT_URL = re.compile(r"^/predictions/([0-9a-f-]{36})#result$")


def csrf_token(page) -> str:
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert match, "the page has no CSRF token field"
    return match.group(1).decode()


@pytest.fixture
def browser() -> Client:
    """A client that enforces CSRF like a real browser session does. Its page loads follow
    redirects: the experiment may send a new visitor round once to set its variant."""
    return Client(enforce_csrf_checks=True, HTTP_ACCEPT="text/html")


def submit_review(browser: Client, review: str):
    token = csrf_token(browser.get("/", follow=True))
    return browser.post("/", {"review": review, "csrfmiddlewaretoken": token})


def test_the_page_offers_an_accessible_form(client):
    page = client.get("/")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<label for="id_review">Your review</label>' in html
    assert re.search(r'<textarea id="id_review" name="review"[^>]*required', html)
    assert 'aria-describedby="review-help review-count review-error"' in html
    assert f'maxlength="{settings.MAX_REVIEW_CHARS}"' in html  # typed past it, nothing is lost
    assert f'id="review-count" class="char-count" data-max="{settings.MAX_REVIEW_CHARS}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<meta name="viewport"' in html
    assert f"Sentiment {settings.APP_VERSION} (v1)" in html


def test_the_page_has_no_inline_script_or_style_and_a_strict_csp(client):
    page = client.get("/")
    html = page.content.decode()
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts
    assert all(" src=" in tag for tag in scripts)
    assert "<style" not in html
    assert " style=" not in html
    assert not re.search(r"<[^>]+\son[a-z]+=", html)  # no inline event handlers
    policy = page["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    for asset in ("/static/reviews/app.js", "/static/site/site.css", "/static/reviews/app.css"):
        assert asset in html
        assert client.get(asset).status_code == 200


def test_no_javascript_flow_with_csrf(browser, fake_model):
    response = submit_review(browser, "Wonderful staff, great pasta.")
    assert response.status_code == 303
    prediction_id = RESULT_URL.match(response["Location"]).group(1)
    prediction = Prediction.objects.get()
    assert str(prediction.id) == prediction_id

    page = browser.get(response["Location"], follow=True)
    html = page.content.decode()
    assert page.status_code == 200
    assert "😊" in html
    assert "Positive" in html
    assert "88%" in html
    assert "fake-1" in html
    assert settings.APP_VERSION in html
    assert "Wonderful staff, great pasta." in html
    assert ">Correct</button>" in html and ">Wrong</button>" in html

    token = csrf_token(page)
    feedback_url = f"/predictions/{prediction_id}/feedback"
    assert browser.post(feedback_url, {"correct": "true"}).status_code == 403
    assert not Feedback.objects.exists()

    response = browser.post(feedback_url, {"correct": "true", "csrfmiddlewaretoken": token})
    assert response.status_code == 303
    assert Feedback.objects.get().correct is True
    html = browser.get(response["Location"], follow=True).content.decode()
    assert "You said this result was <strong>correct</strong>" in html

    # A second answer (say, from another tab) changes nothing.
    again = browser.post(feedback_url, {"correct": "false", "csrfmiddlewaretoken": token})
    assert again.status_code == 303
    assert Feedback.objects.get().correct is True


def test_a_form_post_without_csrf_token_is_refused(browser, fake_model):
    browser.get("/", follow=True)
    response = browser.post("/", {"review": "Great."})
    assert response.status_code == 403
    assert not Prediction.objects.exists()
    assert not fake_model.received


def test_the_review_is_escaped_on_the_page(browser, fake_model):
    review = "<script>alert(\"owned\")</script> <b>bold</b> & 'quoted'"
    response = submit_review(browser, review)
    html = browser.get(response["Location"], follow=True).content.decode()
    assert "<script>alert" not in html
    assert "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &#x27;quoted&#x27;" in html
    assert Prediction.objects.get().review == review


def test_form_line_breaks_are_stored_as_typed(browser, fake_model):
    submit_review(browser, "First line\r\nsecond line ✨")
    assert Prediction.objects.get().review == "First line\nsecond line ✨"
    assert fake_model.received[0].json()["review"] == "First line\nsecond line ✨"


@pytest.mark.parametrize(
    ("review", "message"),
    [
        ("", "Please write a review first."),
        ("  \r\n\t ", "Please write a review first."),
        ("y" * (settings.MAX_REVIEW_CHARS + 1), "Ensure this value has at most"),
    ],
    ids=["empty", "whitespace", "too-long"],
)
def test_bad_input_is_explained_on_the_page(browser, fake_model, review, message):
    response = submit_review(browser, review)
    html = response.content.decode()
    assert response.status_code == 400
    assert message in html
    assert 'aria-invalid="true"' in html
    assert not fake_model.received
    assert not Prediction.objects.exists()


def test_an_oversize_form_gets_a_friendly_page(browser, fake_model, settings):
    token = csrf_token(browser.get("/", follow=True))
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = browser.post("/", {"review": "x" * 2000, "csrfmiddlewaretoken": token})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert "too long" in response.content.decode()
    assert not fake_model.received


def test_a_model_outage_keeps_the_review_and_says_so(browser, dead_model):
    review = "Où est le chef? <em>Nulle part</em> 🤷"
    response = submit_review(browser, review)
    html = response.content.decode()
    assert response.status_code == 503
    assert "The sentiment model is not available right now." in html
    assert "Où est le chef? &lt;em&gt;Nulle part&lt;/em&gt; 🤷</textarea>" in html
    failed = FailedPrediction.objects.get()
    assert (failed.review, failed.reason) == (review, "unavailable")


def test_a_slow_model_degrades_the_page_too(browser, fake_model, settings):
    settings.MODEL_SERVICE_READ_TIMEOUT = 0.2
    fake_model.answer_slowly(1.0)
    response = submit_review(browser, "Anyone there?")
    assert response.status_code == 503
    assert "not available right now" in response.content.decode()
    assert FailedPrediction.objects.get().reason == "timeout"


def test_v1_shows_a_plain_result_with_correct_and_wrong(client, fake_model):
    prediction = _predict(client)
    html = client.get(f"/predictions/{prediction.id}").content.decode()
    assert 'class="result-v1"' in html
    assert ">Correct</button>" in html
    assert "thumb" not in html


def test_v2_shows_a_card_with_thumbs(client, fake_model, settings):
    settings.APP_VARIANT = "v2"
    prediction = _predict(client)
    html = client.get(f"/predictions/{prediction.id}").content.decode()
    assert 'class="card"' in html
    assert 'aria-label="Yes, this is right"' in html
    assert 'aria-label="No, this is wrong"' in html
    assert 'class="card-meter-fill" data-meter width="88"' in html  # the confidence bar
    assert ">Correct</button>" not in html
    assert "(v2)" in html


def _predict(client) -> Prediction:
    response = client.post("/", {"review": "Lovely."})
    assert response.status_code == 303
    return Prediction.objects.get()


def test_feedback_form_with_a_bad_value(client, fake_model):
    prediction = _predict(client)
    response = client.post(f"/predictions/{prediction.id}/feedback", {"correct": "maybe"})
    assert response.status_code == 400
    assert "Please choose whether the result was right or wrong." in response.content.decode()
    assert not Feedback.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/predictions/0f8fe3c2-5b1e-4c1e-9b53-2f0c7a1d9e55",
        "/predictions/not-a-uuid",
        "/no/such/page",
    ],
)
def test_unknown_pages_are_friendly_html(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "Page not found" in html
    assert 'href="/"' in html


def test_feedback_on_an_unknown_prediction_page(client):
    response = client.post(
        "/predictions/0f8fe3c2-5b1e-4c1e-9b53-2f0c7a1d9e55/feedback", {"correct": "true"}
    )
    assert response.status_code == 404
    assert not Feedback.objects.exists()
