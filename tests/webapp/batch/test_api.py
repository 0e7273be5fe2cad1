"""The batch API in eager mode (no REDIS_URL): upload, status, results, refusals."""

import csv
import gzip
import io
import uuid
import zipfile
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY

from core.downloads import spreadsheet_safe
from tests.support.servers import A2
from tests.webapp.batch.uploads import named, post_announcing
from webapp.batch import services
from webapp.batch.models import BatchJob, BatchRow, JobStatus

pytestmark = pytest.mark.django_db


def upload(client, data: bytes, name: str = "reviews.tsv"):
    return client.post("/api/batch", {"file": named(data, name)})


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def results_of(client, job_id) -> list[dict]:
    response = client.get(f"/api/batch/{job_id}/results.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_fresh_dump_is_classified_in_process(client, eager, model_service):
    done_before = sample("sentiment_batch_jobs_total", status="done")
    rows_before = sample("sentiment_batch_rows_total", outcome="classified")

    response = upload(client, A2.read_bytes(), "a2.tsv")

    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == f"/api/batch/{body['id']}"
    # Without a broker the job ran while the upload was handled.
    assert body["status"] == "done"
    assert body["progress"] == {"processed": 100, "total": 100, "percent": 100.0}
    assert body["skipped"] == {"empty": 0, "too_long": 0}
    assert body["errors"] == []
    summary = body["summary"]
    assert summary["positive"] + summary["negative"] == 100
    assert summary["share_positive"] == pytest.approx(summary["positive"] / 100)
    assert body["model_version"]

    status = client.get(f"/api/batch/{body['id']}").json()
    assert status["status"] == "done"
    assert status["results_url"] == f"/api/batch/{body['id']}/results.csv"

    rows = results_of(client, body["id"])
    expected = [spreadsheet_safe(line) for line in A2.read_text().splitlines()[1:]]
    assert [row["review"] for row in rows] == expected
    assert [row["row"] for row in rows] == [str(n) for n in range(1, 101)]
    assert {row["sentiment"] for row in rows} <= {"positive", "negative"}
    assert all(0.5 <= float(row["confidence"]) <= 1.0 for row in rows)
    assert sum(row["sentiment"] == "positive" for row in rows) == summary["positive"]

    assert sample("sentiment_batch_jobs_total", status="done") == done_before + 1
    assert sample("sentiment_batch_rows_total", outcome="classified") == rows_before + 100


def test_results_neutralise_spreadsheet_formulas(client, eager, model_service):
    data = (
        b"Review,stars\n"
        b"\"=cmd|' /C calc'!A0\",1\n"
        b'"+1 lovely staff",5\n'
        b'"-2 stars, cold food",2\n'
        b'"@SUM(A1:A9) the pasta was great",5\n'
        b'"\tTabbed start, nice",4\n'
        b'"Plain, good burger",4\n'
    )
    body = upload(client, data, "formulas.csv").json()
    assert body["status"] == "done"
    reviews = [row["review"] for row in results_of(client, body["id"])]
    assert reviews == [
        "'=cmd|' /C calc'!A0",
        "'+1 lovely staff",
        "'-2 stars, cold food",
        "'@SUM(A1:A9) the pasta was great",
        "'\tTabbed start, nice",
        "Plain, good burger",
    ]
    # The stored review is what the user sent; only the download is made safe.
    assert BatchRow.objects.get(job_id=body["id"], row=1).review == "=cmd|' /C calc'!A0"


def test_skipped_rows_are_reported(client, eager, model_service, settings):
    settings.MAX_REVIEW_CHARS = 40
    data = "Review\nGood\n\n   \n" + "x" * 41 + "\nBad\n"
    body = upload(client, data.encode()).json()
    assert body["status"] == "done"
    assert body["progress"]["total"] == 2
    assert body["skipped"] == {"empty": 2, "too_long": 1}
    assert body["errors"] == [
        {
            "code": "review_too_long",
            "message": "Row 4: longer than 40 characters, skipped.",
            "row": 4,
        }
    ]
    assert [row["row"] for row in results_of(client, body["id"])] == ["1", "5"]


def test_unknown_jobs_are_404_json(client):
    missing = uuid.uuid4()
    for url in (f"/api/batch/{missing}", f"/api/batch/{missing}/results.csv"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_results_of_an_unfinished_job_are_409_json(client):
    job = services.create_job(filename="a.tsv", source=b"Review\nnice\n")  # never sent
    response = client.get(f"/api/batch/{job.id}/results.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_ready"
    status = client.get(f"/api/batch/{job.id}").json()
    assert status["status"] == "queued"
    assert status["progress"] == {"processed": 0, "total": 1, "percent": 0.0}
    assert status["results_url"] is None
    assert status["summary"] is None


def _zip_bomb() -> bytes:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("reviews.csv", b"Review\n" + b"0" * 20_000_000)
    return packed.getvalue()


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 400, "empty_file"),
        (b"Review\nok\x00\n", 400, "not_text"),
        ("Review\nCaf\xe9\n".encode("latin-1"), 400, "not_text"),
        (_zip_bomb(), 400, "not_text"),
        (b"Text\tLiked\nfine\t1\n", 400, "missing_review_column"),
        (b"Review\n\n\n", 400, "no_reviews"),
        (b"Review\n" + b"ok\n" * 6, 400, "too_many_rows"),
        (b"Review\n" + b"x" * 200_000 + b"\n", 413, "file_too_large"),
        (gzip.compress(b"Review\n" + b"x" * 20_000_000), 413, "file_too_large"),
        (gzip.compress(b"Review\n" + b"ok\n" * 1_000_000), 400, "too_many_rows"),
    ],
    ids=[
        "empty",
        "nul",
        "latin-1",
        "zip-bomb",
        "no-review-column",
        "no-reviews",
        "rows",
        "size",
        "gzip-bomb-bytes",
        "gzip-bomb-rows",
    ],
)
def test_unusable_uploads_are_refused_with_json(client, settings, data, status, code):
    settings.BATCH_MAX_ROWS = 5
    settings.BATCH_MAX_BYTES = 100_000
    response = upload(client, data)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert not BatchJob.objects.exists()  # nothing stored
    if code == "file_too_large":
        assert "97.7 KB" in error["message"]  # the limit


def test_a_gzip_upload_is_classified_like_its_text(client, eager, model_service):
    body = upload(client, gzip.compress(A2.read_bytes()), "a2.tsv.gz").json()
    assert body["status"] == "done"
    assert body["progress"]["total"] == 100
    rows = results_of(client, body["id"])
    assert [row["review"] for row in rows][:3] == A2.read_text().splitlines()[1:4]


def test_a_file_larger_than_the_body_limit_of_other_endpoints_is_accepted(
    client, eager, model_service, settings
):
    settings.BATCH_CHUNK_SIZE = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000  # MAX_BODY_BYTES, for JSON bodies
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10_000  # to a temporary file past this
    data = b"Review\n" + b"Lovely food, friendly staff and a view.\n" * 5000  # 200 KB
    body = upload(client, data).json()
    assert body["status"] == "done", body
    assert body["progress"]["processed"] == 5000
    assert body["summary"]["positive"] + body["summary"]["negative"] == 5000


def test_one_client_cannot_fill_the_queue(client, settings, unreachable_broker):
    settings.BATCH_MAX_ACTIVE_PER_CLIENT = 1
    first = upload(client, b"Review\nnice\n")  # no broker: stays queued
    assert first.status_code == 202
    assert first.json()["status"] == "queued"
    second = upload(client, b"Review\nnice\n")
    assert second.status_code == 429
    error = second.json()["error"]
    assert error["code"] == "too_many_jobs"
    assert "at most 1" in error["message"]
    # Another client is not affected.
    other = client.post(
        "/api/batch",
        {"file": io.BytesIO(b"Review\nnice\n")},
        REMOTE_ADDR="192.0.2.7",
    )
    assert other.status_code == 202


def test_a_cancelled_job_answers_410_and_serves_what_was_classified(
    client, model_service, settings
):
    settings.BATCH_CHUNK_SIZE = 2
    job = services.create_job(filename="r.tsv", source=b"Review\nGood\nBad\nFine\n")
    services.process_next_chunk(job.id)
    services.cancel_job(job.id)

    response = client.get(f"/api/batch/{job.id}")
    assert response.status_code == 410
    error = response.json()["error"]
    assert error["code"] == "job_cancelled"
    assert error["job"]["status"] == "cancelled"
    assert error["job"]["progress"]["processed"] == 2
    rows = results_of(client, job.id)
    assert [row["review"] for row in rows] == ["Good", "Bad"]
    assert error["job"]["results_url"] == f"/api/batch/{job.id}/results.csv"


def test_an_expired_job_answers_410(client, settings):
    job = services.create_job(filename="r.tsv", source=b"Review\nGood\n")
    services.finish_job(job.id, JobStatus.DONE)
    long_ago = timezone.now() - timedelta(days=settings.BATCH_RETENTION_DAYS + 1)
    BatchJob.objects.filter(pk=job.pk).update(finished_at=long_ago)
    services.delete_expired_jobs()
    for url in (f"/api/batch/{job.id}", f"/api/batch/{job.id}/results.csv"):
        response = client.get(url)
        assert response.status_code == 410
        assert response.json()["error"]["code"] == "job_expired"


def test_request_shape_errors(client):
    response = client.post("/api/batch", {"other": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_file"
    response = client.post("/api/batch", {"file": "x"}, content_type="application/json")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_an_oversized_body_is_refused_before_it_is_read(client, settings):
    settings.BATCH_MAX_BYTES = 1000
    response = post_announcing(client, "/api/batch", 10_000_000)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"


def test_the_api_is_in_the_schema(client):
    schema = client.get("/api/schema", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/api/batch", "/api/batch/{job_id}", "/api/batch/{job_id}/results.csv"):
        assert path in schema


def test_the_list_shows_only_the_callers_own_jobs(client, eager, model_service):
    mine = upload(client, b"Review\nLovely soup.\n", "mine.tsv").json()["id"]  # names no one
    assert client.get("/api/batch").json() == {"jobs": []}
    ann = [upload_as("ann", f"ann-{i}.tsv").json()["id"] for i in range(2)]
    bob = upload_as("bob", "bob.tsv").json()["id"]

    listed = Client().get("/api/batch", HTTP_X_USER_ID="ann")
    assert listed.status_code == 200
    assert [job["id"] for job in listed.json()["jobs"]] == ann[::-1]  # newest first
    assert listed.json()["jobs"][0]["status"] == "done"
    assert ids(Client().get("/api/batch", HTTP_X_USER_ID="bob")) == [bob]
    # The visitor cookie names the visitor as x-user-id does; a forged one names nobody.
    browser = Client()
    browser.cookies["sentiment_visitor"] = "bob"
    assert ids(browser.get("/api/batch")) == [bob]
    browser.cookies["sentiment_visitor"] = "bob\r\nSet-Cookie: x"
    assert ids(browser.get("/api/batch")) == []
    assert mine not in ids(listed) + ids(Client().get("/api/batch", HTTP_X_USER_ID=""))


def ids(response) -> list[str]:
    return [job["id"] for job in response.json()["jobs"]]


def upload_as(visitor: str, name: str):
    handle = io.BytesIO(b"Review\nCold fries.\nGreat pho.\n")
    handle.name = name
    return Client().post("/api/batch", {"file": handle}, HTTP_X_USER_ID=visitor)


def test_progress_is_one_cheap_read(client, django_assert_max_num_queries):
    job = services.create_job(filename="slow.tsv", source=b"Review\nok\nfine\n")
    with django_assert_max_num_queries(1):
        response = client.get(f"/api/batch/{job.id}/progress")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {"status": "queued", "processed": 0, "total": 2, "notice": None}
    missing = client.get(f"/api/batch/{uuid.uuid4()}/progress")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
