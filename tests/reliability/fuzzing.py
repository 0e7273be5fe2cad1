"""Property-based fuzzing of a service's API from its own OpenAPI schema (schemathesis).

The schema is generated in-process from the same code the server runs (collection happens
before any server exists); ``test_served_schema_is_the_fuzzed_one`` checks that the server
serves exactly that document, and every generated request goes to the real server.
"""

import json

import requests
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings

# Small and derandomized: the same examples on every run, the whole fuzz run in about a
# minute on two cores. Raise max_examples locally to search harder.
FUZZ_SETTINGS = settings(
    derandomize=True,
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def openapi_document(urlconf: str) -> dict:
    """The OpenAPI document ``urlconf`` serves at /api/schema (JSON-normalised)."""
    document = SchemaGenerator(urlconf=urlconf).get_schema(request=None, public=True)
    return json.loads(json.dumps(document, default=str))


def assert_same_api(served: dict, generated: dict) -> None:
    """The operations and their data shapes match (titles may differ per service)."""
    assert served["paths"] == generated["paths"]
    assert served["components"] == generated["components"]


def assert_serves_the_fuzzed_schema(base_url: str, urlconf: str) -> None:
    """The server at ``base_url`` serves the document the fuzzing was generated from."""
    served = requests.get(base_url + "/api/schema?format=json", timeout=10)
    assert served.status_code == 200
    assert_same_api(served.json(), openapi_document(urlconf))


def call_and_validate(case, base_url: str, *checks) -> None:
    """Send one generated request to the real server; the answer must be as documented,
    errors in the documented shape, and pass the service's own ``checks``."""
    case.call_and_validate(base_url=base_url, additional_checks=[error_shape, *checks], timeout=30)


def load_schema(urlconf: str, parameters: dict | None = None, operations: list | None = None):
    config = schemathesis.Config.from_dict(
        {
            "parameters": parameters or {},
            "operations": operations or [],
            # Stateful link-following needs no separate phase here: each operation is
            # fuzzed on its own, with known ids supplied through parameters.
            "phases": {"stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_dict(openapi_document(urlconf), config=config)


def error_shape(ctx, response, case) -> None:
    """Every error answer is JSON in the documented shape, even for undocumented statuses:
    ``{"error": {"code", "message"}}``, or ``{"error": "..."}`` on the Open Inference
    Protocol routes (/v2/...), whose wire format that protocol fixes."""
    if response.status_code < 400 or case.method.upper() == "HEAD":
        return
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.startswith("application/json"), (
        f"{response.status_code} answered {content_type!r}, not JSON"
    )
    body = json.loads(response.content)
    assert isinstance(body, dict) and "error" in body, f"no 'error' in {body!r}"
    if case.path.startswith("/v2"):
        assert isinstance(body["error"], str) and body["error"], body
    else:
        error = body["error"]
        assert isinstance(error.get("code"), str) and error["code"], body
        assert isinstance(error.get("message"), str) and error["message"], body
    assert "Traceback" not in response.text
