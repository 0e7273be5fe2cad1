"""The batch API in eager mode (no REDIS_URL): upload, status, results, refusals."""

import csv
import io
import uuid
import zipfile

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from tests.support.servers import A2
from webapp.batch import services
from webapp.batch.models import BatchRow
from webapp.batch.parsing import spreadsheet_safe

pytestmark = pytest.mark.django_db


def upload(client, data: bytes, name: str = "reviews.tsv"):
    handle = io.BytesIO(data)
    handle.name = name
    return client.post("/api/batch", {"file": handle})


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
    job = services.create_job(filename="a.tsv", data=b"Review\nnice\n")  # never sent
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
    ],
    ids=["empty", "nul", "latin-1", "zip-bomb", "no-review-column", "no-reviews", "rows", "size"],
)
def test_unusable_uploads_are_refused_with_json(client, settings, data, status, code):
    settings.BATCH_MAX_ROWS = 5
    settings.BATCH_MAX_BYTES = 100_000
    response = upload(client, data)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


def test_request_shape_errors(client):
    response = client.post("/api/batch", {"other": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_file"
    response = client.post("/api/batch", {"file": "x"}, content_type="application/json")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_an_oversized_body_is_refused_before_it_is_read(client, settings):
    settings.BATCH_MAX_BYTES = 1000
    response = client.generic(
        "POST",
        "/api/batch",
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH="10000000",
    )
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
    job = services.create_job(filename="slow.tsv", data=b"Review\nok\nfine\n")
    with django_assert_max_num_queries(1):
        response = client.get(f"/api/batch/{job.id}/progress")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {"status": "queued", "processed": 0, "total": 2, "notice": None}
    missing = client.get(f"/api/batch/{uuid.uuid4()}/progress")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
