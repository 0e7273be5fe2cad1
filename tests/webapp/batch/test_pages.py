"""The batch pages through Django's test client, tasks in-process (no REDIS_URL)."""

import re
import uuid

import pytest
from django.test import Client

from tests.support.pages import assert_no_inline_code
from tests.support.servers import A2
from tests.webapp.batch.uploads import named, post_announcing

pytestmark = pytest.mark.django_db


def test_the_upload_page_explains_the_format_and_limits(client, settings):
    settings.BATCH_MAX_BYTES = 5 * 1024 * 1024
    settings.BATCH_MAX_ROWS = 10_000
    response = client.get("/batch")
    assert response.status_code == 200
    html = response.content.decode()
    for fragment in (
        'enctype="multipart/form-data"',
        'name="file"',
        "csrfmiddlewaretoken",
        "Up to 5 MB and 10000 reviews",
    ):
        assert fragment in html
    # Styled like every other primary button, and spelt as in the navigation.
    assert '<button type="submit" class="button button-primary">Analyze file</button>' in html
    assert "Analyse" not in html
    assert "<code>Review</code>" in html
    assert "Content-Security-Policy" in response.headers
    assert_no_inline_code(html)


def test_an_upload_leads_to_the_job_page_with_its_results(client, eager, model_service):
    client.get("/batch", HTTP_ACCEPT="text/html")  # a browser's first visit: a visitor cookie
    response = client.post("/batch", {"file": named(A2.read_bytes(), "a2.tsv")})

    assert response.status_code == 302
    job_url = response["Location"]
    assert re.fullmatch(r"/batch/[0-9a-f-]{36}", job_url)
    page = client.get(job_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert_no_inline_code(html)
    assert 'data-status="done"' in html
    assert '<progress id="batch-progress" max="100" value="100"' in html
    positive = int(re.search(r'id="batch-positive">(\d+)<', html).group(1))
    negative = int(re.search(r'id="batch-negative">(\d+)<', html).group(1))
    assert positive + negative == 100
    assert f'id="batch-share">{positive:.1f}%<' in html
    assert f'class="batch-chart-positive" x="0" y="0" width="{positive:.3f}"' in html
    assert f"/api/batch/{job_url.rsplit('/', 1)[1]}/results.csv" in html
    assert 'src="/static/batch/job.js"' in html

    # A preview of the results: the reviews the model is surest about, each side.
    preview = re.findall(
        r'<section class="batch-preview-side batch-preview-(\w+)".*?</section>', html, re.S
    )
    assert preview == ["negative", "positive"]
    confidences = [int(c) for c in re.findall(r"· (\d+)% confident", html)]
    assert len(confidences) == 6 and all(50 <= c <= 100 for c in confidences)

    # The upload page lists the visitor's own jobs, and no one else's.
    assert f'href="{job_url}">a2.tsv</a>' in client.get("/batch").content.decode()
    stranger = Client()
    stranger.get("/batch", HTTP_ACCEPT="text/html")
    assert job_url not in stranger.get("/batch").content.decode()


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", 400, "This is not a text file"),
        (b"Text\tLiked\nfine\t1\n", 400, "The first line must name a Review column"),
        (b"Review\n" + b"ok\n" * 6, 400, "more than 5 reviews"),
        (b"Review\n" + b"x" * 5000, 413, "The file is larger than 4 KB."),
    ],
)
def test_unusable_files_get_a_friendly_message(client, settings, data, status, message):
    settings.BATCH_MAX_ROWS = 5
    settings.BATCH_MAX_BYTES = 4096
    response = client.post("/batch", {"file": named(data)})
    assert response.status_code == status
    html = response.content.decode()
    assert 'role="alert"' in html
    assert message in html
    assert 'aria-invalid="true"' in html


def test_a_form_without_a_file_asks_for_one(client):
    response = client.post("/batch", {})
    assert response.status_code == 400
    assert "Choose a file to upload." in response.content.decode()


def test_an_oversized_form_is_refused_before_it_is_read(client, settings):
    settings.BATCH_MAX_BYTES = 1000
    response = post_announcing(client, "/batch", 10_000_000)
    assert response.status_code == 413
    assert "The file is larger than 1000 bytes." in response.content.decode()


def test_the_form_needs_its_csrf_token():
    response = Client(enforce_csrf_checks=True).post("/batch", {"file": named(b"Review\nok\n")})
    assert response.status_code == 403


def test_a_running_job_page_works_without_javascript(client):
    from webapp.batch import services

    job = services.create_job(filename="slow.tsv", source=b"Review\nok\nfine\n")
    html = client.get(f"/batch/{job.id}").content.decode()
    assert 'data-status="queued"' in html
    assert '<progress id="batch-progress" max="2" value="0"' in html
    assert "0 of 2 reviews classified" in html
    assert f'<noscript><p><a href="/batch/{job.id}">Refresh</a>' in html
    assert "Download results" not in html


def test_the_job_page_polls_at_the_configured_interval(client, settings):
    from webapp.batch import services

    job = services.create_job(filename="slow.tsv", source=b"Review\nok\n")
    html = client.get(f"/batch/{job.id}").content.decode()
    assert 'data-poll-seconds="1.0"' in html
    assert f'data-progress-url="/api/batch/{job.id}/progress"' in html
    settings.BATCH_POLL_SECONDS = 2.5
    assert 'data-poll-seconds="2.5"' in client.get(f"/batch/{job.id}").content.decode()


def test_unknown_job_pages_are_404(client):
    assert client.get(f"/batch/{uuid.uuid4()}").status_code == 404
