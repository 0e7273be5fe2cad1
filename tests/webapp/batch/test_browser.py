"""The batch pages in a real browser (Debian chromium) against the web app under gunicorn:
the upload form without JavaScript, and the job page's live progress with it."""

import threading
import time

import pytest

from tests.support.browser import Browser
from tests.support.servers import A2, start_server
from webapp.batch import services

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser():
    instance = Browser()
    yield instance
    instance.close()


@pytest.fixture(scope="module")
def web(module_database_url, modelsvc_server, tmp_path_factory):
    """The web app without REDIS_URL: tasks run in the request, as with `make run`."""
    server = start_server(
        "webapp",
        tmp_path_factory.mktemp("batch-browser"),
        {
            "DATABASE_URL": module_database_url,
            "MODEL_SERVICE_URL": modelsvc_server.url,
            "REDIS_URL": "",
        },
        ready_path="/health/live",
    )
    yield server
    server.stop()


def test_the_form_works_without_javascript(browser, web, tmp_path):
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

    shown, errors = browser.submit(upload, javascript=False).result(timeout=120)

    assert errors == []
    assert shown["status"] == "Done"
    assert shown["positive"] + shown["negative"] == 100
    assert shown["progress"] == "100"
    assert shown["chart"].endswith("% negative")
    assert shown["download"].endswith("/results.csv")


def test_an_unusable_file_gets_a_message_in_the_page(browser, web, tmp_path):
    bad = tmp_path / "reviews.csv"
    bad.write_text("Text,Liked\nGreat,1\n")

    def upload(page):
        page.goto(f"{web.url}/batch")
        page.set_input_files("#batch-file", str(bad))
        page.click("button[type=submit]")
        page.wait_for_selector("#batch-error")
        return page.text_content("#batch-error")

    message, errors = browser.submit(upload).result(timeout=60)
    assert "Review column" in message
    # The 400 status of the page itself is reported as a console error; nothing else is.
    assert all("status of 400" in error for error in errors)


def test_the_job_page_shows_progress_live(browser, web, settings, model_service):
    settings.BATCH_CHUNK_SIZE = 25
    job = services.create_job(filename="a2.tsv", data=A2.read_bytes())  # no worker yet
    opened = threading.Event()

    def watch(page):
        from playwright.sync_api import Error

        page.goto(f"{web.url}/batch/{job.id}")
        seen = [page.get_attribute("#batch-progress", "value")]
        opened.set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if page.query_selector("#batch-positive"):
                    break
                value = page.get_attribute("#batch-progress", "value")
            except Error:  # the page is reloading with the results
                time.sleep(0.05)
                continue
            if value != seen[-1]:
                seen.append(value)
            page.wait_for_timeout(100)
        return seen, page.text_content("#batch-status"), page.text_content("#batch-share")

    future = browser.submit(watch)
    assert opened.wait(30)
    # This process plays the worker, a chunk at a time, slower than the page polls.
    while services.process_next_chunk(job.id):
        time.sleep(1.5)
    (seen, status, share), errors = future.result(timeout=90)

    assert errors == []
    assert seen[0] == "0"
    assert {"25", "50", "75"} <= set(seen)  # updated in place, chunk by chunk
    assert status == "Done"  # reloaded with the results once done
    assert share.endswith("%")
