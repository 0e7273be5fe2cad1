"""The model service's API fuzzed from its own OpenAPI schema against a real server:
no 5xx, every answer as documented, every error in the documented shape."""

import json
import re

import pytest
from schemathesis import GenerationMode

from tests.reliability.conftest import MODEL_VERSION
from tests.reliability.fuzzing import (
    FUZZ_SETTINGS,
    assert_serves_the_fuzzed_schema,
    call_and_validate,
    load_schema,
)

pytestmark = [pytest.mark.slow, pytest.mark.urls("modelsvc.urls")]

INFER_PATHS = ["/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"]
# Rules OpenAPI 3.0 cannot express: `shape` must match the length of `data`, and its
# second dimension, when present, must be 1.
SHAPE_MISMATCH = re.compile(
    r"inputs\[0\]\.shape (says \d+ elements but data has \d+"
    r"|must be \[N\] or \[N, 1\] for 'text', got \[\d+, \d+\])"
)

schema = load_schema(
    "modelsvc.urls",
    {"name": "sentiment", "version": MODEL_VERSION},
    operations=[
        {
            "include-path": INFER_PATHS,
            "include-method": "POST",
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2XX", 400]}},
        }
    ],
)


def infer_refusals_are_shape_mismatches(ctx, response, case) -> None:
    """A 400 to a schema-valid inference request may only be the shape/data mismatch."""
    if (
        case.path in INFER_PATHS
        and response.status_code == 400
        and case.meta.generation.mode == GenerationMode.POSITIVE
    ):
        message = json.loads(response.content)["error"]
        assert SHAPE_MISMATCH.fullmatch(message), message


def test_served_schema_is_the_fuzzed_one(tiny_modelsvc):
    assert_serves_the_fuzzed_schema(tiny_modelsvc.url, "modelsvc.urls")


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_answers_as_documented(case, tiny_modelsvc):
    call_and_validate(case, tiny_modelsvc.url, infer_refusals_are_shape_mismatches)
