"""The web app's API fuzzed from its own OpenAPI schema against a real server (gunicorn,
the test database, a real model service): no 5xx, every answer as documented, every error
in the documented shape."""

import json
import uuid

import pytest
import requests
from schemathesis import GenerationMode

from tests.reliability.fuzzing import (
    FUZZ_SETTINGS,
    assert_serves_the_fuzzed_schema,
    call_and_validate,
    load_schema,
)
from tests.reliability.harness import start_webapp

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Reasons an upload is refused for its content: a file is "schema-valid" whatever its bytes.
CONTENT_REFUSALS = {
    "empty_file",
    "not_text",
    "missing_review_column",
    "malformed_csv",
    "no_reviews",
    "too_many_rows",
}

schema = load_schema(
    "webapp.urls",
    operations=[
        {
            # Any bytes match `format: binary`; the API still refuses files that are not
            # UTF-8 CSV/TSV. Such a 400 is checked below to be about the content.
            "include-path": "/api/batch",
            "include-method": "POST",
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ["2XX", 400, 409, 413]},
            },
        }
    ],
)


def upload_refusals_are_about_content(ctx, response, case) -> None:
    """A 400 to a schema-valid upload must name a content problem, not a framing one."""
    if (case.method, case.path, response.status_code) == ("POST", "/api/batch", 400):
        code = json.loads(response.content)["error"]["code"]
        assert code in CONTENT_REFUSALS or case.meta.generation.mode == GenerationMode.NEGATIVE, (
            code
        )


@pytest.fixture(scope="module")
def webapp(shared_db, tiny_modelsvc, tmp_path_factory):
    server = start_webapp(tmp_path_factory.mktemp("fuzz-webapp"), tiny_modelsvc.url, workers=2)
    yield server
    server.stop()


@pytest.fixture
def known_ids(webapp) -> dict:
    """A stored prediction and a finished batch job, so fuzzed ids can reach real objects."""
    prediction = requests.post(webapp.url + "/api/analyze", json={"review": "Lovely"}, timeout=10)
    job = requests.post(
        webapp.url + "/api/batch", files={"file": ("r.csv", b"Review\nGood\nBad\n")}, timeout=30
    )
    assert prediction.status_code == 200 and job.status_code == 202, (prediction.text, job.text)
    return {"prediction_id": prediction.json()["prediction_id"], "job_id": job.json()["id"]}


def point_at_known_objects(case, known_ids: dict) -> None:
    """Well-formed ids are swapped for real ones; malformed ones are kept to be refused."""
    if isinstance(case.body, dict) and _is_uuid(case.body.get("prediction_id")):
        case.body["prediction_id"] = known_ids["prediction_id"]
    if case.path_parameters and _is_uuid(case.path_parameters.get("job_id")):
        case.path_parameters["job_id"] = known_ids["job_id"]


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def test_served_schema_is_the_fuzzed_one(webapp):
    assert_serves_the_fuzzed_schema(webapp.url, "webapp.urls")


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_answers_as_documented(case, webapp, known_ids):
    point_at_known_objects(case, known_ids)
    call_and_validate(case, webapp.url, upload_refusals_are_about_content)
