"""Every page a user touches, in a real browser (Debian chromium) against real gunicorn
servers: the web app v1 and v2, and the model service. Each page fails on a console error, a
Content-Security-Policy violation or a failed request, must pass axe-core with no serious or
critical violation, and leaves a screenshot in the test's temporary folder."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from core.review import max_chars
from tests.support.browser import Audit, check_accessibility
from tests.support.servers import A2, start_server
from tests.webapp.experiments.factories import ExperimentFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "a-long-test-password-42"  # the test database's own user


def webapp(variant: str, database_url: str, model_url: str, folder):
    return start_server(
        "webapp",
        folder,
        {
            "DATABASE_URL": database_url,
            "MODEL_SERVICE_URL": model_url,
            "REDIS_URL": "",
            "CELERY_TASK_ALWAYS_EAGER": "true",  # batch jobs run inside the request
            "APP_VARIANT": variant,
        },
        ready_path="/health/live",
    )


@pytest.fixture(scope="module")
def servers(module_database_url, modelsvc_server, tmp_path_factory):
    v1 = webapp("v1", module_database_url, modelsvc_server.url, tmp_path_factory.mktemp("v1"))
    v2 = webapp("v2", module_database_url, modelsvc_server.url, tmp_path_factory.mktemp("v2"))
    yield {"v1": v1, "v2": v2, "modelsvc": modelsvc_server}
    v1.stop()
    v2.stop()


def assert_clean(audit: Audit, axe: list[str]) -> None:
    assert audit.console == [], audit.console
    assert audit.violations == [], audit.violations
    assert audit.failed == [], audit.failed
    assert axe == [], axe


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_the_review_page_result_and_feedback(chromium, servers, variant, tmp_path):
    url = servers[variant].url

    def review(page):
        # A header chooses the variant, so each app serves its own page (no redirect).
        page.set_extra_http_headers({"x-user-experiment": "A" if variant == "v1" else "B"})
        page.goto(url + "/")
        shown = {"form": check_accessibility(page, f"{variant}-form", tmp_path)}
        page.keyboard.press("Tab")  # the skip link: the first stop, as a keyboard user sees it
        shown["focus_ring"] = page.evaluate("getComputedStyle(document.activeElement).outlineColor")
        shown["maxlength"] = page.get_attribute("#id_review", "maxlength")
        page.fill("#id_review", "The soup was cold, bland and the waiter was rude.")
        shown["count"] = page.text_content("#review-count")
        page.click("#review-form button[type=submit]")
        page.wait_for_selector("#result [data-result][data-sentiment=negative]")
        shown["result"] = check_accessibility(page, f"{variant}-result", tmp_path)
        shown["header"] = page.text_content(".site-header")
        shown["details"] = page.text_content("#result .result-details")
        if variant == "v2":
            shown["meter"] = page.evaluate(
                "getComputedStyle(document.querySelector('#result .card-meter-fill')).fill"
            )
        page.locator("#result [data-feedback] button[type=submit]").first.click()
        page.wait_for_selector("#result [data-feedback-done]:not([hidden])")
        shown["feedback"] = check_accessibility(page, f"{variant}-feedback", tmp_path)
        return shown

    shown, audit = chromium.audit(review)

    assert_clean(audit, shown["form"] + shown["result"] + shown["feedback"])
    assert shown["maxlength"] == str(max_chars())
    assert shown["count"] == f"49 / {max_chars()} characters"  # live, as typed
    assert contrast(shown["focus_ring"], "rgb(255, 255, 255)") >= 3  # WCAG 2.2, 2.4.13
    # Versions are small print beside the result, the experiment group for staff only.
    assert "Group" not in shown["header"] and "App " not in shown["header"]
    assert "group" not in shown["details"].lower()
    assert re.search(r"App \S+ \(v[12]\) · model \S+", " ".join(shown["details"].split()))
    if variant == "v2":
        assert shown["meter"] == "rgb(162, 40, 27)"  # the card's red, not a green meter


def luminance(colour: str) -> float:
    """WCAG relative luminance of a CSS ``rgb(r, g, b)`` colour."""
    channels = [int(c) / 255 for c in re.findall(r"\d+", colour)[:3]]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: str, other: str) -> float:
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_batch_upload_and_job_pages(chromium, servers, tmp_path):
    url = servers["v1"].url

    def batch(page):
        page.goto(url + "/batch")
        shown = {"upload": check_accessibility(page, "batch-upload", tmp_path)}
        page.set_input_files("#batch-file", str(A2))
        page.click("#batch-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/batch/[0-9a-f-]{36}$"))
        page.wait_for_selector("#batch-positive")
        shown["job"] = check_accessibility(page, "batch-job", tmp_path)
        return shown

    shown, audit = chromium.audit(batch)

    assert_clean(audit, shown["upload"] + shown["job"])


@pytest.mark.parametrize("service", ["v1", "modelsvc"])
def test_the_api_docs_render_their_operations(chromium, servers, service, tmp_path):
    url = servers[service].url

    def docs(page):
        page.goto(url + "/api/docs")
        page.wait_for_selector(".opblock", state="attached")
        operations = page.locator(".opblock-summary-path").all_inner_texts()
        return operations, check_accessibility(page, f"docs-{service}", tmp_path)

    (operations, axe), audit = chromium.audit(docs)

    expected = "/api/analyze" if service == "v1" else "/analyze"
    assert expected in [op.replace("\u200b", "") for op in operations]
    assert_clean(audit, axe)


def test_the_admin_login_experiment_and_statistics(chromium, servers, tmp_path):
    url = servers["v1"].url
    hasher = PBKDF2PasswordHasher()  # the server's own; the test settings use a fast one
    get_user_model().objects.create(
        username="staff",
        password=hasher.encode(ADMIN_PASSWORD, hasher.salt()),
        is_staff=True,
        is_superuser=True,
    )
    experiment = ExperimentFactory(name="page-check")
    change = f"{url}/admin/experiments/experiment/{experiment.pk}/change/"

    def admin(page):
        page.goto(change)
        shown = {"login": check_accessibility(page, "admin-login", tmp_path)}
        page.fill("#id_username", "staff")
        page.fill("#id_password", ADMIN_PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(change)
        shown["experiment"] = check_accessibility(page, "admin-experiment", tmp_path)
        page.goto(f"{url}/admin/experiments/experiment/{experiment.pk}/stats/")
        shown["title"] = page.title()
        shown["stats"] = check_accessibility(page, "admin-stats", tmp_path)
        return shown

    shown, audit = chromium.audit(admin)

    assert "Statistics" in shown["title"] or "statistics" in shown["title"]
    assert_clean(audit, shown["login"] + shown["experiment"] + shown["stats"])
