"""Hand-picked hostile input to the real web app: bodies, headers, cookies and uploads an
attacker or a broken client would send. Each gets a clear 4xx (JSON on the API, a page
elsewhere), nothing hostile is echoed or stored, and the app keeps working."""

import csv
import gzip
import io
import json
import re
import socket
import zipfile

import pytest
import requests
from django.conf import settings

from tests.reliability.harness import start_webapp
from webapp.reviews.models import Prediction

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

JSON = {"content-type": "application/json"}
BODY_LIMIT = settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # MAX_BODY_BYTES, as the servers have it
SAFE_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")


@pytest.fixture(scope="module")
def webapp(shared_db, tiny_modelsvc, tmp_path_factory):
    # A 5 MB batch limit, so that the uploads below can go past it quickly.
    server = start_webapp(
        tmp_path_factory.mktemp("hostile-webapp"),
        tiny_modelsvc.url,
        {"BATCH_MAX_BYTES": str(5 * 1024 * 1024)},
    )
    yield server
    server.stop()


def assert_clean_json_error(response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["message"]
    if code:
        assert error["code"] == code, error
    assert "Traceback" not in response.text


API_BODIES = {
    "deeply nested arrays": (b"[" * 100_000 + b"]" * 100_000, 400, "malformed_json"),
    "body over the limit": (
        b'{"review": "' + b"a" * (BODY_LIMIT + 10) + b'"}',
        413,
        "request_too_large",
    ),
    "invalid utf-8": (b'{"review": "caf\xc3\x28"}', 400, "malformed_json"),
    "raw NUL byte": (b'{"review": "a\x00b"}', 400, "malformed_json"),
    "escaped NUL": (b'{"review": "a\\u0000b"}', 400, "invalid_input"),
    "lone surrogate": (b'{"review": "\\udfff"}', 400, "invalid_input"),
    "number": (b'{"review": 12}', 400, "invalid_input"),
    "object": (b'{"review": {"$gt": ""}}', 400, "invalid_input"),
    "truncated": (b'{"review": "abc', 400, "malformed_json"),
}


@pytest.mark.parametrize("name", list(API_BODIES))
def test_analyze_api_refuses_hostile_bodies(webapp, name):
    body, status, code = API_BODIES[name]
    response = requests.post(webapp.url + "/api/analyze", data=body, headers=JSON, timeout=30)
    assert_clean_json_error(response, status, code)


def test_feedback_api_refuses_hostile_bodies(webapp):
    for body in (
        b"[" * 50_000,
        b'{"prediction_id": "1 OR 1=1", "correct": true}',
        b'{"prediction_id": "00000000-0000-0000-0000-000000000000", "correct": "yes"}',
        b'{"prediction_id": null, "correct": true}',
    ):
        response = requests.post(webapp.url + "/api/feedback", data=body, headers=JSON, timeout=30)
        assert_clean_json_error(response, 400)


def csrf_session(webapp) -> tuple[requests.Session, str]:
    session = requests.Session()
    page = session.get(webapp.url + "/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session, token


@pytest.mark.parametrize(
    ("body", "statuses"),
    [
        ("review=a%00b", {400}),
        ("review=" + "a" * 20_000, {400}),
        ("review=%20%20%0A", {400}),
        ("review=caf%C3%28", {303, 400}),  # invalid UTF-8, percent-encoded
        ("review=ok&review=twice", {303, 400}),
        ("", {400}),
    ],
)
def test_the_review_form_answers_bad_input_with_a_page(webapp, body, statuses):
    session, token = csrf_session(webapp)
    response = session.post(
        webapp.url + "/",
        data=f"{body}&csrfmiddlewaretoken={token}",
        headers={"Referer": webapp.url + "/", "Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code in statuses
    if response.status_code == 400:
        assert response.headers["content-type"].startswith("text/html")
        assert "Traceback" not in response.text


def test_a_form_body_over_the_limit_gets_a_page_not_a_crash(webapp):
    session, token = csrf_session(webapp)
    response = session.post(
        webapp.url + "/",
        data={"review": "a" * (BODY_LIMIT + 10), "csrfmiddlewaretoken": token},
        headers={"Referer": webapp.url + "/"},
        timeout=30,
    )
    assert response.status_code in {400, 413}
    assert response.headers["content-type"].startswith("text/html")


def raw_request(server, head: bytes, body: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("header", [b"X-User-Experiment", b"X-User-Id"])
@pytest.mark.parametrize(
    "value", [b"B\r\nSet-Cookie: owned=1", b"B\rSet-Cookie: owned=1", b"B\nSet-Cookie: owned=1"]
)
def test_line_breaks_in_headers_cannot_inject_headers(webapp, header, value):
    head = (
        b"POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\n" + header + b": " + value + b"\r\n"
    )
    answer = raw_request(webapp, head, b'{"review": "Nice"}')
    status_line, _, rest = answer.partition(b"\r\n")
    head_out = rest.split(b"\r\n\r\n", 1)[0].lower()
    assert b"set-cookie: owned" not in head_out
    # Either refused by the server or read as one odd header value that is then ignored.
    assert status_line.split()[1] in {b"200", b"400"}, status_line


@pytest.mark.parametrize(
    "headers",
    [
        {"X-User-Experiment": "C"},
        {"X-User-Experiment": "b"},
        {"X-User-Experiment": "B" * 6000},
        {"X-User-Id": "x" * 6000},
        {"X-User-Id": "<script>alert(1)</script>"},
        {"X-User-Id": "../../etc/passwd"},
        {"X-User-Id": "визит-ör-🙂".encode()},
        {"X-User-Experiment": "Б".encode()},
        {"Cookie": "sentiment_visitor=" + "v" * 5000},
        {"Cookie": "sentiment_visitor=<img src=x onerror=alert(1)>"},
        {"Cookie": 'sentiment_visitor="quoted; injected"; x-user-experiment=C'},
        {"Cookie": "x-user-experiment=C"},
        {"Cookie": "sentiment_visitor=ok; x-user-experiment=../../B"},
        {"Cookie": "sentiment_session=forged-session-key-123"},
    ],
)
def test_forged_headers_and_cookies_are_ignored_not_echoed(webapp, headers):
    response = requests.post(
        webapp.url + "/api/analyze", json={"review": "Tasty"}, headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text[:300]
    assert response.json()["variant"] in {None, "A", "B"}
    for line in response.raw.headers.getlist("Set-Cookie"):
        value = line.split(";", 1)[0].split("=", 1)[1]
        assert SAFE_TOKEN.fullmatch(value) or value in {"A", "B"}, line
    stored = Prediction.objects.get(pk=response.json()["prediction_id"])
    assert stored.variant in {"", "A", "B"}
    assert stored.visitor_id == "" or SAFE_TOKEN.fullmatch(stored.visitor_id)


def test_headers_over_the_server_limit_are_refused_cleanly(webapp):
    response = requests.get(webapp.url + "/", headers={"X-User-Id": "x" * 9000}, timeout=10)
    assert response.status_code in {400, 431}


def upload(webapp, name: str, data: bytes) -> requests.Response:
    return requests.post(webapp.url + "/api/batch", files={"file": (name, data)}, timeout=60)


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("reviews.csv", b"Review\n" + b"0" * 50_000_000)
    return buffer.getvalue()


UPLOADS = {
    "zip bomb": ("reviews.csv", zip_bomb(), 400, "not_text"),
    # 50 MB of text in 50 KB: unpacked as a stream, stopped at the limit.
    "gzip bomb": ("reviews.csv.gz", gzip.compress(b"Review\n" + b"0" * 50_000_000), 413, None),
    "gzip, damaged": ("reviews.csv.gz", gzip.compress(b"Review\nGood\n" * 1000)[:-20], 400, None),
    "png": ("reviews.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, 400, "not_text"),
    "utf-16": ("reviews.csv", "Review\nGood\n".encode("utf-16"), 400, "not_text"),
    "latin-1": ("reviews.csv", "Review\nCafé crème\n".encode("latin-1"), 400, "not_text"),
    "NUL bytes": ("reviews.csv", b"Review\nGood\x00food\n", 400, "not_text"),
    "empty": ("reviews.csv", b"", 400, "empty_file"),
    "no review column": ("reviews.csv", b"Text,Stars\nGood,5\n", 400, "missing_review_column"),
    "too large": ("reviews.csv", b"Review\n" + b"a" * (6 * 1024 * 1024), 413, None),
}


@pytest.mark.parametrize("name", list(UPLOADS))
def test_uploads_that_are_not_review_files_are_refused(webapp, name):
    filename, data, status, code = UPLOADS[name]
    assert len(data) < 8 * 1024 * 1024
    assert_clean_json_error(upload(webapp, filename, data), status, code)


FORMULAS = [
    "=cmd|' /C calc'!A0",
    "+SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A2)",
    '=HYPERLINK("http://evil.example","click")',
    "\t=1+2",
]


def csv_cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@pytest.mark.parametrize(
    "text",
    [
        # One column: every line is a review as written.
        "Review\n" + "".join(f"{f}\n" for f in FORMULAS),
        # Comma-separated, with CSV quoting.
        "Stars,Review\n" + "".join(f"5,{csv_cell(f)}\n" for f in FORMULAS),
    ],
    ids=["single-column", "csv"],
)
def test_formulas_in_an_upload_are_neutralised_in_the_results(webapp, text):
    created = upload(webapp, "formulas.csv", text.encode())
    assert created.status_code == 202, created.text[:300]
    job = requests.get(webapp.url + created.headers["Location"], timeout=10).json()
    assert job["status"] == "done", job
    results = requests.get(webapp.url + job["results_url"], timeout=10)
    assert results.status_code == 200
    rows = list(csv.DictReader(io.StringIO(results.text)))
    assert [row["review"] for row in rows] == ["'" + f for f in FORMULAS]
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_a_hostile_file_name_is_neither_echoed_raw_nor_able_to_split_headers(webapp):
    name = 'x"\r\nSet-Cookie: owned=1; <script>alert(1)</script>.csv'
    created = upload(webapp, name, b"Review\nGood\n")
    assert created.status_code == 202, created.text[:300]
    job = created.json()
    results = requests.get(webapp.url + f"/api/batch/{job['id']}/results.csv", timeout=10)
    assert "owned" not in results.headers.get("Set-Cookie", "")
    assert re.fullmatch(
        r'attachment; filename="[A-Za-z0-9._-]+"', results.headers["Content-Disposition"]
    )
    page = requests.get(webapp.url + f"/batch/{job['id']}", timeout=10)
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text


def test_the_app_still_works_after_the_abuse(webapp):
    assert requests.get(webapp.url + "/health/ready", timeout=10).status_code == 200
    answer = requests.post(webapp.url + "/api/analyze", json={"review": "Great"}, timeout=10)
    assert answer.status_code == 200 and answer.json()["sentiment"] in {"positive", "negative"}
    assert json.loads(requests.get(webapp.url + "/api/version", timeout=10).text)["app_version"]
