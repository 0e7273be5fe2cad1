"""The batch pages in a real browser (Debian chromium) against the web app under gunicorn:
the upload form without JavaScript, and the job page's live progress with it."""

import contextlib
import queue
import time

import pytest

from tests.support.servers import A2
from webapp.batch import services
from webapp.batch.models import BatchJob

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def web(module_webapp, modelsvc_server):
    """The web app without REDIS_URL, tasks run in the request (no worker to start); the job
    page polls at the production default."""
    return module_webapp(
        "batch-browser",
        {
            "MODEL_SERVICE_URL": modelsvc_server.url,
            "REDIS_URL": "",
            "CELERY_TASK_ALWAYS_EAGER": "true",
        },
        ready_path="/health/live",
    )


def test_the_form_works_without_javascript(chromium, web, tmp_path):
    def upload(page):
        page.goto(f"{web.url}/batch")
        page.set_input_files("#batch-file", str(A2))
        page.click("button[type=submit]")
        page.wait_for_url(f"{web.url}/batch/*")
        page.screenshot(path=str(tmp_path / "job-done.png"), full_page=True)
        return {
            "status": page.text_content("#batch-status"),
            "positive": int(page.text_content("#batch-positive")),
            "negative": int(page.text_content("#batch-negative")),
            "progress": page.get_attribute("#batch-progress", "value"),
            "chart": page.get_attribute(".batch-chart", "aria-label"),
            "download": page.get_attribute(".batch-download", "href"),
        }

    shown, errors = chromium.submit(upload, javascript=False).result(timeout=120)

    assert errors == []
    assert shown["status"] == "Done"
    assert shown["positive"] + shown["negative"] == 100
    assert shown["progress"] == "100"
    assert shown["chart"].endswith("% negative")
    assert shown["download"].endswith("/results.csv")


def test_an_unusable_file_gets_a_message_in_the_page(chromium, web, tmp_path):
    bad = tmp_path / "reviews.csv"
    bad.write_text("Text,Liked\nGreat,1\n")

    def upload(page):
        page.goto(f"{web.url}/batch")
        page.set_input_files("#batch-file", str(bad))
        page.click("button[type=submit]")
        page.wait_for_selector("#batch-error")
        return page.text_content("#batch-error")

    message, errors = chromium.submit(upload).result(timeout=60)
    assert "Review column" in message
    # The 400 status of the page itself is reported as a console error; nothing else is.
    assert all("status of 400" in error for error in errors)


def wait_until_seen(seen: queue.Queue, value: str, history: list[str], timeout=30.0) -> None:
    """Until the page has shown ``value`` (bounded); ``history`` collects what it showed."""
    deadline = time.monotonic() + timeout
    while value not in history:
        left = deadline - time.monotonic()
        assert left > 0, f"the page never showed {value}; it showed {history}"
        with contextlib.suppress(queue.Empty):
            history.append(seen.get(timeout=min(left, 1.0)))


def test_the_job_page_shows_progress_live(chromium, web, settings, model_service):
    settings.BATCH_CHUNK_SIZE = 25
    job = services.create_job(filename="a2.tsv", source=A2.read_bytes())  # no worker yet
    seen: queue.Queue[str] = queue.Queue()

    def watch(page):
        from playwright.sync_api import Error

        page.goto(f"{web.url}/batch/{job.id}")
        last = page.get_attribute("#batch-progress", "value")
        seen.put(last)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if page.query_selector("#batch-positive"):
                    break
                value = page.get_attribute("#batch-progress", "value")
            except Error:  # the page is reloading with the results
                time.sleep(0.05)
                continue
            if value != last:
                seen.put(value)
                last = value
            page.wait_for_timeout(50)
        return page.text_content("#batch-status"), page.text_content("#batch-share")

    future = chromium.submit(watch)
    history: list[str] = []
    wait_until_seen(seen, "0", history)
    # This process plays the worker: a chunk, then wait until the page has shown it.
    while services.process_next_chunk(job.id):
        processed = BatchJob.objects.get(pk=job.id).processed_rows
        # The page polls every second while the job moves: each chunk shows within a few.
        wait_until_seen(seen, str(processed), history, timeout=5.0)
    (status, share), errors = future.result(timeout=60)

    assert errors == []
    assert history[0] == "0"
    assert {"25", "50", "75", "100"} <= set(history)  # updated in place, chunk by chunk
    assert status == "Done"  # reloaded with the results once done
    assert share.endswith("%")


def test_a_rate_limited_poll_waits_as_the_gateway_says(chromium, web):
    job = services.create_job(filename="a2.tsv", source=A2.read_bytes())  # stays queued
    api = f"{web.url}/api/batch/{job.id}/progress"
    limits = [{"Retry-After": "2"}, {"x-ratelimit-reset": "1", "x-ratelimit-remaining": "0"}]

    def watch(page):
        polls: list[float] = []

        def gateway(route):
            polls.append(time.monotonic())
            if limits:
                route.fulfill(status=429, headers=limits.pop(0), body="")
            else:
                route.continue_()

        page.route(api, gateway)
        page.goto(f"{web.url}/batch/{job.id}")
        page.wait_for_selector("#batch-notice:not([hidden])")
        shown = page.text_content("#batch-notice")
        page.wait_for_selector("#batch-notice", state="hidden")  # a poll got through
        return polls, shown

    (polls, shown), errors = chromium.submit(watch).result(timeout=60)

    assert shown == "Too many requests, try again in 2 s."
    assert len(polls) >= 3
    assert polls[1] - polls[0] >= 1.9  # Retry-After: 2, not the page's 1 s interval
    assert polls[2] - polls[1] >= 0.9  # x-ratelimit-reset: 1
    assert all("status of 429" in error for error in errors)


def test_a_rate_limited_upload_says_when_beside_the_button(chromium, web, tmp_path):
    reviews = tmp_path / "reviews.tsv"
    reviews.write_text("Review\tLiked\nLovely soup.\t1\nCold fries.\t0\n")

    def upload(page):
        page.route(
            f"{web.url}/batch",
            lambda route: (
                route.fulfill(
                    status=429,
                    headers={"Retry-After": "9", "Content-Type": "application/json"},
                    body='{"error": {"code": "rate_limited", "message": "Too many requests"}}',
                )
                if route.request.method == "POST"
                else route.continue_()
            ),
        )
        page.goto(f"{web.url}/batch")
        page.set_input_files("#batch-file", str(reviews))
        page.click("button[type=submit]")
        status = page.locator("#batch-upload-status")
        status.wait_for(state="visible")
        shown = {
            "text": status.inner_text(),
            "beside_button": page.evaluate(
                "document.getElementById('batch-upload-status').parentElement"
                ".contains(document.querySelector('#batch-form button[type=submit]'))"
            ),
            "url": page.url,
        }
        # Let it through: the job page it redirects to is shown, as without the script.
        page.unroute(f"{web.url}/batch")
        page.click("button[type=submit]")
        page.wait_for_url(f"{web.url}/batch/*")
        shown["status"] = page.text_content("#batch-status")
        return shown

    shown, errors = chromium.submit(upload).result(timeout=120)

    assert shown["text"] == "Too many requests, try again in 9 s."
    assert shown["beside_button"]
    assert shown["url"] == f"{web.url}/batch"
    assert shown["status"] in {"Queued", "Running", "Done"}
    assert all("status of 429" in error for error in errors), errors
    assert BatchJob.objects.count() == 1
