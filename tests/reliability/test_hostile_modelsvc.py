"""Hand-picked hostile requests to the real model service: each gets a clear 4xx JSON error
in the documented shape, never a 500, and the service keeps answering afterwards."""

import json

import pytest
import requests
from django.conf import settings

pytestmark = pytest.mark.slow

JSON = {"content-type": "application/json"}
BODY_LIMIT = settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # MAX_BODY_BYTES, as the servers have it

HOUSE_CASES = {
    # name: (path, body bytes, headers, expected status, expected error code)
    "deeply nested arrays": (
        "/analyze",
        b"[" * 100_000 + b"]" * 100_000,
        JSON,
        400,
        "malformed_json",
    ),
    "deeply nested objects": (
        "/analyze",
        b'{"review":' * 50_000 + b'"x"' + b"}" * 50_000,
        JSON,
        400,
        "malformed_json",
    ),
    "body over the limit": (
        "/analyze",
        b'{"review": "' + b"a" * (BODY_LIMIT + 10) + b'"}',
        JSON,
        413,
        "request_too_large",
    ),
    "batch body over the limit": (
        "/analyze/batch",
        json.dumps({"reviews": ["a" * (BODY_LIMIT // 1000)] * 1000}).encode(),
        JSON,
        413,
        "request_too_large",
    ),
    "invalid utf-8": ("/analyze", b'{"review": "caf\xc3\x28"}', JSON, 400, "malformed_json"),
    "raw NUL byte": ("/analyze", b'{"review": "a\x00b"}', JSON, 400, "malformed_json"),
    "escaped NUL": ("/analyze", b'{"review": "a\\u0000b"}', JSON, 400, "invalid_input"),
    "lone surrogate": ("/analyze", b'{"review": "a\\ud800b"}', JSON, 400, "invalid_input"),
    "NaN literal": ("/analyze", b'{"review": NaN}', JSON, 400, "malformed_json"),
    "number for text": ("/analyze", b'{"review": 1e999999}', JSON, 400, "invalid_input"),
    "list for text": ("/analyze", b'{"review": ["a"]}', JSON, 400, "invalid_input"),
    "only whitespace": ("/analyze", b'{"review": " \\n\\t "}', JSON, 400, "invalid_input"),
    "text over the limit": (
        "/analyze",
        json.dumps({"review": "a" * 5001}).encode(),
        JSON,
        400,
        "invalid_input",
    ),
    "batch of 1001": (
        "/analyze/batch",
        json.dumps({"reviews": ["ok"] * 1001}).encode(),
        JSON,
        400,
        "invalid_input",
    ),
    "top-level string": ("/analyze", b'"review"', JSON, 400, "invalid_input"),
    "empty body": ("/analyze", b"", JSON, 400, "invalid_input"),
    "form encoded": (
        "/analyze",
        b"review=hello",
        {"content-type": "application/x-www-form-urlencoded"},
        415,
        "unsupported_media_type",
    ),
    "xml": (
        "/analyze",
        b"<review>hi</review>",
        {"content-type": "application/xml"},
        415,
        "unsupported_media_type",
    ),
}

OIP_CASES = {
    "nested arrays": (b"[" * 100_000 + b"]" * 100_000, 400),
    "invalid utf-8": (
        b'{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["caf\xc3\x28"]}]}',
        400,
    ),
    "NUL in text": (
        b'{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["a\\u0000"]}]}',
        400,
    ),
    "output name not a string": (
        b'{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["ok"]}],'
        b'"outputs":[{"name":{}}]}',
        400,
    ),
    "body over the limit": (b"x" * (BODY_LIMIT + 10), 413),
}


@pytest.mark.parametrize("name", list(HOUSE_CASES))
def test_house_api_refuses_hostile_input_cleanly(tiny_modelsvc, name):
    path, body, headers, status, code = HOUSE_CASES[name]
    response = requests.post(tiny_modelsvc.url + path, data=body, headers=headers, timeout=30)
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == code
    assert "Traceback" not in response.text


@pytest.mark.parametrize("name", list(OIP_CASES))
def test_inference_protocol_refuses_hostile_input_cleanly(tiny_modelsvc, name):
    body, status = OIP_CASES[name]
    response = requests.post(
        tiny_modelsvc.url + "/v2/models/sentiment/infer", data=body, headers=JSON, timeout=30
    )
    assert response.status_code == status, response.text[:300]
    assert isinstance(response.json()["error"], str)


def test_hostile_headers_are_harmless(tiny_modelsvc):
    cases = {
        "x-user-experiment": ["B" * 10_000, "é-ünïcode-ß", "A\tB", "<script>"],
        "x-request-id": ["x" * 8_000, "id with spaces", "../../etc/passwd"],
        "content-type": ["application/json; charset=bogus-charset"],
    }
    for header, values in cases.items():
        for value in values:
            headers = {**JSON, header: value.encode("utf-8")}
            response = requests.post(
                tiny_modelsvc.url + "/analyze",
                data=b'{"review": "Nice"}',
                headers=headers,
                timeout=10,
            )
            assert response.status_code in {200, 400, 415, 431}, (
                header,
                value,
                response.text[:200],
            )
            assert "Traceback" not in response.text


def test_header_splitting_is_impossible(tiny_modelsvc):
    """A raw CR/LF inside a header value never reaches the app as a new header."""
    import socket

    request = (
        b"POST /analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"X-User-Experiment: A\rSet-Cookie: owned=1\r\nContent-Length: 18\r\n\r\n"
        b'{"review": "Nice"}'
    )
    with socket.create_connection(("127.0.0.1", tiny_modelsvc.port), timeout=10) as sock:
        sock.sendall(request)
        answer = sock.recv(65536)
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 400"), head[:200]
    assert b"set-cookie: owned" not in head


def test_service_still_healthy_after_the_abuse(tiny_modelsvc):
    assert requests.get(tiny_modelsvc.url + "/health/ready", timeout=10).status_code == 200
    answer = requests.post(
        tiny_modelsvc.url + "/analyze", json={"review": "Great food"}, timeout=10
    )
    assert answer.status_code == 200
    assert answer.json()["sentiment"] in {"positive", "negative"}
